import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RunLedger, RunRecord } from './types';

interface FileState {
  locks: Record<string, { owner: string; leaseUntil: number }>;
  last: Record<string, RunRecord>;
  lastSuccess: Record<string, RunRecord>;
  history: Record<string, RunRecord[]>;
}

const HISTORY_CAP = 200;
const MUTEX_STALE_MS = 10_000;

/**
 * The run ledger as one JSON file, for local runs (the role of seed 000's /tmp/archiver_health.json).
 * Safe across processes: every read-modify-write holds a `<file>.mutex` created with O_EXCL,
 * and the file is replaced atomically (write + rename).
 */
export class FileRunLedger implements RunLedger {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  async acquire(job: string, owner: string, leaseMs: number, now = new Date()): Promise<boolean> {
    return this.update((s) => {
      const lock = s.locks[job];
      if (lock && lock.owner !== owner && lock.leaseUntil >= now.getTime()) return false;
      s.locks[job] = { owner, leaseUntil: now.getTime() + leaseMs };
      return true;
    });
  }

  async release(job: string, owner: string): Promise<void> {
    await this.update((s) => {
      if (s.locks[job]?.owner === owner) delete s.locks[job];
    });
  }

  async record(run: RunRecord): Promise<void> {
    await this.update((s) => {
      s.last[run.job] = run;
      if (run.status === 'healthy') s.lastSuccess[run.job] = run;
      const list = [run, ...(s.history[run.job] ?? [])];
      s.history[run.job] = list.slice(0, HISTORY_CAP);
    });
  }

  async lastRun(job: string): Promise<RunRecord | undefined> {
    return this.read().last[job];
  }

  async lastSuccess(job: string): Promise<RunRecord | undefined> {
    return this.read().lastSuccess[job];
  }

  async history(job: string, limit = 20): Promise<RunRecord[]> {
    return (this.read().history[job] ?? []).slice(0, limit);
  }

  private read(): FileState {
    try {
      const parsed = JSON.parse(readFileSync(this.path, 'utf8')) as Partial<FileState>;
      return { locks: {}, last: {}, lastSuccess: {}, history: {}, ...parsed };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { locks: {}, last: {}, lastSuccess: {}, history: {} };
      throw new Error(`Run ledger file ${this.path} is unreadable: ${(err as Error).message}`);
    }
  }

  private async update<T>(fn: (s: FileState) => T): Promise<T> {
    const mutex = `${this.path}.mutex`;
    for (let attempt = 0; ; attempt++) {
      try {
        closeSync(openSync(mutex, 'wx'));
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        try {
          if (Date.now() - statSync(mutex).mtimeMs > MUTEX_STALE_MS) rmSync(mutex, { force: true });
        } catch {
          /* removed meanwhile */
        }
        if (attempt > 2_000) throw new Error(`Run ledger file ${this.path} is locked by another process`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    try {
      const state = this.read();
      const result = fn(state);
      const tmp = `${this.path}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
      renameSync(tmp, this.path);
      return result;
    } finally {
      rmSync(mutex, { force: true });
    }
  }
}
