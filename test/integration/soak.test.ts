/**
 * The soak for a few seconds (issue 24): its own PostgreSQL, Redis and S3, the app, the jobs and
 * (in the second test) the nemesis, then the checker against the journal. The long run is
 * `npm run soak -- --seconds 120` (docs/soak.md).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { soakSummary } from '../../local/soak/report';
import { runSoak } from '../../local/soak/soak';

jest.setTimeout(150_000);

describe('soak', () => {
  it('without faults: every check passes, and the journal is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'soak-test-'));
    try {
      const journalFile = join(dir, 'journal.jsonl');
      const report = await runSoak({ seconds: 4, seed: 11, nemesis: false, journalFile });

      const summary = soakSummary(report).join('\n');
      expect(report.checks.map((c) => [c.name, c.pass])).toEqual(report.checks.map((c) => [c.name, true]));
      expect(report.passed).toBe(true);
      expect(report.journal.messages.size).toBeGreaterThan(0);
      expect(report.checks[0]?.counts.in_postgres ?? 0).toBeGreaterThan(0); // the archive ran
      expect(summary).toContain('Every check passed.');
      const kinds = new Set(
        readFileSync(journalFile, 'utf8')
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { kind: string }).kind),
      );
      expect([...kinds]).toEqual(expect.arrayContaining(['message', 'event', 'audit', 'run']));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with the nemesis: faults are injected, and nothing written is lost, duplicated or miscounted', async () => {
    const report = await runSoak({ seconds: 6, seed: 5 });

    expect(Object.values(report.journal.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    const [messages, events, objects, audits] = report.checks;
    expect([messages?.problems, events?.problems, objects?.problems, audits?.problems]).toEqual([[], [], [], []]);
  });
});
