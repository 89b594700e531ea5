import { appendFileSync, copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMigrations, MigrationError, migrate } from '../../lambdas/shared/migrate';
import { DRIVERS, MIGRATIONS_DIR, type TestDb, testDb } from '../support/db';

function copyMigrations(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dlc-mig-'));
  for (const f of readdirSync(MIGRATIONS_DIR)) copyFileSync(join(MIGRATIONS_DIR, f), join(dir, f));
  return dir;
}

describe.each(DRIVERS)('migrations through the %s driver', (driver) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await testDb(driver, { migrate: false });
  });
  afterAll(() => db.close());

  it('apply to an empty database, then a second run changes nothing, then a changed file is refused', async () => {
    // Prepare
    const dir = copyMigrations();
    const files = loadMigrations(dir);
    // Act 1: empty database
    const first = await migrate(db.sql, files);
    // Assess 1
    expect(first.applied).toEqual(files.map((f) => f.name));
    const tables = await db.direct.query<{ n: string }>(
      "SELECT table_name AS n FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    );
    expect(tables.map((t) => t.n)).toEqual(
      expect.arrayContaining([
        'conversations',
        'messages',
        'analytics_events',
        'agg_response_times_hourly',
        'archive_manifest',
        'checkpoint_quarantine',
        'leads',
        'audits',
        'conversation_history',
        'analytics_agent_steps_view',
      ]),
    );
    const recorded = await db.direct.query<{ name: string; checksum: string }>(
      'SELECT name, checksum FROM schema_migrations ORDER BY name',
    );
    expect(recorded).toEqual(files.map((f) => ({ name: f.name, checksum: f.checksum })));

    // Act 2: re-run
    const second = await migrate(db.sql, loadMigrations(dir));
    // Assess 2
    expect(second).toEqual({ applied: [], alreadyApplied: files.map((f) => f.name) });

    // Act 3: an applied file changed, plus a new one: nothing is applied
    appendFileSync(join(dir, '002_analytics.sql'), '\n-- edited after the fact\n');
    writeFileSync(join(dir, '999_new.sql'), 'CREATE TABLE should_not_exist (x int);');
    const err = await migrate(db.sql, loadMigrations(dir)).catch((e) => e);
    // Assess 3
    expect(err).toBeInstanceOf(MigrationError);
    expect(err.message).toMatch(/Migration 002_analytics\.sql was changed after it was applied/);
    const exists = await db.direct.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'should_not_exist'");
    expect(exists).toHaveLength(0);
  });

  it('two migrators at once apply each file exactly once', async () => {
    const other = await testDb(driver, { migrate: false });
    try {
      const files = loadMigrations(MIGRATIONS_DIR);
      const [a, b] = await Promise.all([migrate(other.sql, files), migrate(other.sql, files)]);
      expect([...a.applied, ...b.applied].sort()).toEqual(files.map((f) => f.name));
    } finally {
      await other.close();
    }
  });

  it('a failing migration names its file and leaves nothing half applied', async () => {
    const other = await testDb(driver, { migrate: false });
    try {
      const dir = mkdtempSync(join(tmpdir(), 'dlc-mig-bad-'));
      writeFileSync(join(dir, '001_ok.sql'), 'CREATE TABLE ok (x int);');
      writeFileSync(join(dir, '002_bad.sql'), 'CREATE TABLE half (x int);\nCREATE TABLE broken (x nosuchtype);');
      await expect(migrate(other.sql, loadMigrations(dir))).rejects.toThrow(/Migration 002_bad\.sql failed: .*nosuchtype/);
      const t = await other.direct.query<{ n: string }>(
        "SELECT table_name AS n FROM information_schema.tables WHERE table_name IN ('ok','half')",
      );
      expect(t.map((r) => r.n)).toEqual(['ok']);
    } finally {
      await other.close();
    }
  });
});
