/**
 * `retention` and `restore` as an operator runs them (issue 22, item 9): on a terminal, progress on
 * stderr while they work (a line rewritten with `\r`); piped, nothing but the result — no `\r`, no
 * stderr. The terminal is a real pseudo-terminal (`script`), stdout redirected to a file inside it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Running, startS3 } from '../../local/services';
import { type TestDb, testDb } from '../support/db';

const ROOT = join(__dirname, '..', '..');
const CLI = [process.execPath, join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'bin', 'cli.ts')];
const cwd = mkdtempSync(join(tmpdir(), 'dlc-progress-'));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

describe('retention and restore: progress on a terminal, nothing extra when piped', () => {
  let db: TestDb;
  let s3: Running;
  let env: NodeJS.ProcessEnv;

  function exec(file: string, args: readonly string[]): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });
  }
  /** Piped: stdout and stderr are pipes. */
  const piped = (args: readonly string[]) => exec(CLI[0] as string, [...CLI.slice(1), ...args]);
  /** On a terminal: stderr is a pseudo-terminal (what `script` relays), stdout a file. */
  async function onTerminal(args: readonly string[]): Promise<{ code: number | null; terminal: string; stdout: string }> {
    const out = join(cwd, `stdout-${Date.now()}.txt`);
    const command = `${[...CLI, ...args].map((a) => `'${a}'`).join(' ')} > '${out}'`;
    const r = await exec('script', ['-q', '-e', '-c', command, '/dev/null']);
    return { code: r.code, terminal: r.stdout, stdout: readFileSync(out, 'utf8') };
  }
  /** Old messages of one conversation on `day` (beyond the 180 days messages are kept). */
  async function seed(key: string, day: string, n = 40): Promise<void> {
    await db.direct.execute(
      `WITH c AS (INSERT INTO conversations (conversation_key, source, started_at, last_message_at)
                  VALUES ($1::text, 'redis_archive', $2::timestamptz, $2::timestamptz) RETURNING id)
       INSERT INTO messages (conversation_id, message_key, seq, role, content, created_at, source)
       SELECT c.id, 'm' || g, g, 'user', 'hola ' || g, $2::timestamptz + g * interval '1 minute', 'redis_archive'
       FROM c, generate_series(1, $3::int) g`,
      [key, `${day}T10:00:00Z`, n],
    );
  }

  beforeAll(async () => {
    db = await testDb('pg');
    s3 = await startS3(['cold']);
    env = {
      ...process.env,
      DATABASE_URL: db.url,
      COLD_BUCKET: 'cold',
      S3_ENDPOINT: s3.url,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json'),
      NODE_NO_WARNINGS: '1',
      TERM: 'xterm',
    };
    delete env.ENV_NAME;
  });
  afterAll(async () => {
    await db?.close();
    await s3?.stop();
  });

  it('retention', async () => {
    await seed('piped', '2025-01-15');
    const p = await piped(['retention', '--table', 'messages']);
    expect(p).toEqual({ code: 0, stdout: expect.stringMatching(/^messages: cutoff .*; exported 40, deleted 40 rows;/), stderr: '' });
    expect(p.stdout).not.toContain('\r');

    await seed('terminal', '2025-02-15');
    const t = await onTerminal(['retention', '--table', 'messages']);
    expect(t.code).toBe(0);
    expect(t.terminal).toContain('\rFinding expired rows in messages…');
    expect(t.terminal).toMatch(/\rmessages {24} █{30} 40\/40 rows {2}[\d.]+ s/);
    expect(t.stdout).toMatch(/^messages: cutoff .*; exported 40, deleted 40 rows;/);
    expect(t.stdout).not.toContain('\r');
  });

  it('restore', async () => {
    const p = await piped(['restore', '--table', 'messages', '--from', '2025-01-01', '--to', '2025-02-01']);
    expect(p).toEqual({ code: 0, stdout: expect.stringMatching(/^messages: 40 rows back in PostgreSQL from 1 object/), stderr: '' });

    const t = await onTerminal(['restore', '--table', 'messages', '--from', '2025-02-01', '--to', '2025-03-01']);
    expect(t.code).toBe(0);
    expect(t.terminal).toMatch(/\rRestoring messages: object 1 \([\d.]+ MiB read\) {2}[\d.]+ s/);
    expect(t.stdout).toMatch(/^messages: 40 rows back in PostgreSQL from 1 object/);
    expect(t.stdout).not.toContain('\r');
  });
});
