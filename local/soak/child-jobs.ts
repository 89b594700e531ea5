/**
 * The nemesis' "a job's process killed at a random point and started again": the job runs in a child
 * process (local/soak/job-child.ts, through tsx) against the soak's servers and run-ledger file, on
 * the same virtual time; the nemesis SIGKILLs it at a random moment of its run, journals the run as
 * killed, and starts the job again in a new process. What a child's run recorded in the ledger joins
 * the soak's RecordingLedger, so check 5 sees it as any other run.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { RunRecord } from '../../lambdas/shared/ledger/types';
import type { ChildSpec } from './job-child';
import type { JournalRun } from './journal';

export interface ChildRun {
  readonly job: ChildSpec['job'];
  /** Its run id, once the child said the run began. */
  readonly runId?: string;
  /** The run's journal entry, when the child lived to say it. */
  readonly run?: JournalRun;
  readonly records: RunRecord[];
  /** SIGKILLed by the nemesis (true), or it ended on its own. */
  readonly killed: boolean;
  /** Real ms from the run's start to the kill. */
  readonly killedAfterMs?: number;
  readonly exit: string;
  readonly stderr: string;
}

const TSX = join(__dirname, '../../node_modules/.bin/tsx');
const CHILD = join(__dirname, 'job-child.ts');

/**
 * Runs `spec.job` in a child process. With `killAfterMs`, the child is SIGKILLed that long (real)
 * after its run began (or when `giveUpMs` passes); otherwise it runs to its end (or `giveUpMs`, then killed).
 */
export function runJobInChild(spec: ChildSpec, killAfterMs?: number, giveUpMs = 60_000): Promise<ChildRun> {
  return new Promise((resolve) => {
    const child = spawn(TSX, [CHILD, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const records: RunRecord[] = [];
    let runId: string | undefined;
    let run: JournalRun | undefined;
    let startedAt: number | undefined;
    let killedAt: number | undefined;
    let out = '';
    let stderr = '';
    const kill = () => {
      if (killedAt !== undefined || child.exitCode !== null || child.signalCode !== null) return;
      killedAt = Date.now();
      child.kill('SIGKILL');
    };
    const giveUp = setTimeout(kill, giveUpMs);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        let msg: { start?: { runId: string }; record?: RunRecord; run?: JournalRun };
        try {
          msg = JSON.parse(line);
        } catch {
          continue; // not one of ours
        }
        if (msg.start) {
          runId = msg.start.runId;
          startedAt = Date.now();
          if (killAfterMs !== undefined) setTimeout(kill, killAfterMs);
        }
        if (msg.record) records.push(msg.record);
        if (msg.run) run = msg.run;
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2_000);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(giveUp);
      resolve({
        job: spec.job,
        ...(runId ? { runId } : {}),
        ...(run ? { run } : {}),
        records,
        killed: killedAt !== undefined && signal === 'SIGKILL',
        ...(killedAt !== undefined && startedAt !== undefined ? { killedAfterMs: killedAt - startedAt } : {}),
        exit: String(code ?? signal),
        stderr,
      });
    });
  });
}
