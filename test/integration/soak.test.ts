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
      // threads written by the real LangGraph savers (full and shallow, some through the subgraph) were checked too
      expect(report.checks[0]?.counts.saver_messages ?? 0).toBeGreaterThan(0);
      const ops = report.journal.ops;
      expect([ops['saver.turn.full'] ?? 0, ops['saver.turn.shallow'] ?? 0, ops['turn.subgraph'] ?? 0].every((n) => n > 0)).toBe(true);
      expect(summary).toContain('Every check passed.');
      const kinds = new Set(
        readFileSync(journalFile, 'utf8')
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { kind: string }).kind),
      );
      expect([...kinds]).toEqual(expect.arrayContaining(['message', 'event', 'audit', 'run', 'watchdog']));
      const layouts = new Set(
        readFileSync(journalFile, 'utf8')
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { layout?: string }).layout)
          .filter(Boolean),
      );
      expect([...layouts].sort()).toEqual(['saver-full', 'saver-shallow', 'seed']);
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

  it('a job’s process killed at a random point and started again (retention, the app’s LangGraph process, the archive): every check passes', async () => {
    const report = await runSoak({ seconds: 10, seed: 2, faults: ['job-kill'], killOrder: ['retention', 'saver', 'archive'] });

    // Each kill of a job lands mid-run (journaled killed) or after the run ended (its run journaled
    // as it ended): which one is the machine's timing, so both are accepted and each is accounted for.
    // test/integration/soak-checker.test.ts kills a run at its start, which is always mid-run.
    const f = report.journal.faults;
    const ops = report.journal.ops;
    const jobKills = (f['job-kill:archive'] ?? 0) + (f['job-kill:retention'] ?? 0);
    const killed = report.journal.runs.filter((r) => r.outcome === 'killed');
    expect(f['job-kill:retention'] ?? 0).toBeGreaterThan(0); // the first kill
    expect([killed.length, (ops['job-kill.mid-run'] ?? 0) + (ops['job-kill.run-ended-first'] ?? 0)]).toEqual([
      ops['job-kill.mid-run'] ?? 0,
      jobKills,
    ]);
    // The app's process: each kill journaled as it found the process (a turn in flight or not)
    const saverKills = Object.entries(f).filter(([k]) => k.startsWith('job-kill:saver-'));
    expect(saverKills.reduce((a, [, n]) => a + n, 0)).toBe((f['job-kill'] ?? 0) - jobKills);
    expect(report.checks.map((c) => [c.name, c.pass, c.problems])).toEqual(report.checks.map((c) => [c.name, true, []]));
    expect(report.checks[4]?.counts.killed_then_ran_again ?? 0).toBe(killed.length);
  });

  it('the app clobbering a LangGraph thread’s keys (its newest checkpoint deleted or retyped, its newest messages blob deleted), then sending its last turn again: every check passes', async () => {
    const report = await runSoak({ seconds: 8, seed: 3, faults: ['app-clobber'], clobberSaverShare: 1 });

    const f = report.journal.faults;
    const saverClobbers = Object.entries(f).filter(([k]) => k.startsWith('app-clobber:saver-') && k !== 'app-clobber:saver-none');
    expect(saverClobbers.reduce((a, [, n]) => a + n, 0)).toBeGreaterThan(0);
    expect(report.journal.ops['saver.turn.resent'] ?? 0).toBeGreaterThan(0);
    expect(report.checks.map((c) => [c.name, c.pass, c.problems])).toEqual(report.checks.map((c) => [c.name, true, []]));
  });
});
