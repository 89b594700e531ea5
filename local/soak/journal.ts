/**
 * The workload's history: what the app wrote (messages with their last content, events, audits),
 * what ran and what the nemesis did. The checker trusts this and nothing the jobs say about themselves.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export interface JournalMessage {
  readonly thread: string;
  readonly id: string;
  /** The last content the app wrote for it. */
  content: string;
  sha256: string;
  /** Virtual time of its last write (ISO). */
  at: string;
  /** Times its content was edited. */
  edits: number;
  /** Who wrote its thread: seed 000's layout, or the real LangGraph saver (full or shallow). */
  readonly layout: MessageLayout;
}

export type MessageLayout = 'seed' | 'saver-full' | 'saver-shallow';

export interface JournalEvent {
  readonly id: string;
  readonly valid: boolean;
  readonly type: string;
  readonly at: string;
  readonly property: string;
  readonly channel: string | null;
}

export interface JournalAudit {
  readonly id: string;
  readonly lead: string;
  /** The backfill must turn it into one message. */
  readonly message: boolean;
}

/**
 * busy: the lease was taken (LeaseBusy, "Cannot restore now"); refused: an operator's request with
 * nothing to act on; killed: the nemesis killed the job's process (SIGKILL) mid-run.
 */
export type RunOutcome = 'healthy' | 'unhealthy' | 'skipped' | 'busy' | 'refused' | 'failed' | 'killed';

export interface JournalRun {
  readonly job: string;
  readonly runId: string;
  readonly outcome: RunOutcome;
  /** Whether the job recorded this run in the ledger (runExclusive); restore has no ledger record. */
  readonly ledgered: boolean;
  readonly workRemaining?: boolean;
  /** The run's counters, as the job reported them (for the throughput table; the checker does not use them). */
  readonly counters?: Readonly<Record<string, number>>;
  readonly error?: string;
  readonly phase: 'soak' | 'catch-up';
  /** A killed run: the virtual time the soak saw it die (its record, if it wrote one, finished before). */
  readonly at?: string;
}

export class Journal {
  readonly messages = new Map<string, JournalMessage>();
  readonly events = new Map<string, JournalEvent>();
  readonly audits = new Map<string, JournalAudit>();
  readonly runs: JournalRun[] = [];
  /** Every watchdog verdict (virtual time, phase, the jobs it found stale and failing). */
  readonly watchdog: { at: string; phase: JournalRun['phase']; stale: string[]; failing: string[] }[] = [];
  readonly ops: Record<string, number> = {};
  readonly faults: Record<string, number> = {};
  /** Errors the app met (writes retried). */
  readonly appErrors: Record<string, number> = {};

  op(kind: string, n = 1): void {
    this.ops[kind] = (this.ops[kind] ?? 0) + n;
  }

  fault(kind: string): void {
    this.faults[kind] = (this.faults[kind] ?? 0) + 1;
  }

  appError(kind: string): void {
    this.appErrors[kind] = (this.appErrors[kind] ?? 0) + 1;
  }

  message(thread: string, id: string, content: string, at: Date, layout: MessageLayout = 'seed'): void {
    const had = this.messages.get(id);
    const entry = { thread, id, content, sha256: sha256(content), at: at.toISOString(), edits: had ? had.edits + 1 : 0, layout };
    this.messages.set(id, entry);
  }

  /** `--journal FILE`: one JSON object per line. */
  write(file: string): void {
    const lines: string[] = [];
    for (const m of this.messages.values())
      lines.push(
        JSON.stringify({ kind: 'message', thread: m.thread, id: m.id, sha256: m.sha256, at: m.at, edits: m.edits, layout: m.layout }),
      );
    for (const e of this.events.values())
      lines.push(
        JSON.stringify({ kind: 'event', id: e.id, valid: e.valid, type: e.type, at: e.at, property: e.property, channel: e.channel }),
      );
    for (const a of this.audits.values()) lines.push(JSON.stringify({ kind: 'audit', id: a.id, lead: a.lead, message: a.message }));
    for (const { counters: _c, ...r } of this.runs) lines.push(JSON.stringify({ kind: 'run', ...r }));
    for (const w of this.watchdog) lines.push(JSON.stringify({ kind: 'watchdog', ...w }));
    lines.push(JSON.stringify({ kind: 'faults', ...this.faults }));
    writeFileSync(file, `${lines.join('\n')}\n`);
  }
}
