/**
 * A job's lease in the database that every entry point shares (the Lambda, the CLI, a second Lambda
 * after a timeout): the run ledgers (DynamoDB, a file) differ per entry point, the database does
 * not. Table `job_leases` (sql/014): one row per job, never deleted; `fence` grows at every
 * acquisition. A run holds the row FOR SHARE in each transaction that must happen under its lease
 * (`holdFence`): an acquisition by another run waits for that transaction, and a run whose lease
 * was taken over (or expired) fails there — fencing enforced by the database, not by the order of
 * statements in one process.
 */
import type { SqlExecutor } from './sql/types';

/** What a transaction needs to prove the lease is still this run's (plain data: crosses threads). */
export interface Fence {
  readonly job: string;
  readonly fence: string;
}

export class LeaseLost extends Error {
  override readonly name = 'LeaseLost';
}

export class LeaseBusy extends Error {
  override readonly name = 'LeaseBusy';
}

/**
 * How long a lease lasts without renewal, whatever runs: short, so that a run that died (the
 * database down when it tried to release, a killed process) frees it within two minutes. Safe
 * because it is fenced: an object is written and committed under the row's share lock, so a lease
 * cannot change hands in the middle of one, and a run whose lease was taken stops at its next object.
 */
export const DB_LEASE_MS = 120_000;

/** Pauses between attempts to release the lease (≈ 6 s in all); then the error is the caller's. */
export const RELEASE_RETRY_MS: readonly number[] = [100, 250, 500, 1_000, 2_000, 2_000];

/**
 * Holds the lease row FOR SHARE in `tx` if the lease is still `f` and unexpired (several threads of
 * one run may hold it at once); throws LeaseLost otherwise (the transaction then rolls back).
 */
export async function holdFence(tx: SqlExecutor, f: Fence): Promise<void> {
  const rows = await tx.query(
    'SELECT 1 FROM job_leases WHERE job = $1::text AND fence = $2::text::bigint AND expires_at > now() FOR SHARE',
    [f.job, f.fence],
  );
  if (rows.length === 0)
    throw new LeaseLost(
      `the ${f.job} lease (fence ${f.fence}) expired or was taken by another run: this run stops, nothing more is written`,
    );
}

export class DatabaseLease {
  private current?: Fence;
  private timer?: NodeJS.Timeout;
  private lostError?: LeaseLost;

  constructor(
    private readonly sql: SqlExecutor,
    readonly job: string,
    /** Where this run comes from (lambda, cli): told to whoever finds the lease taken. */
    private readonly holder: string,
    /** How long the lease lasts without renewal; renewed every third of it while held. */
    private readonly leaseMs: number = DB_LEASE_MS,
  ) {}

  get fence(): Fence | undefined {
    return this.current;
  }

  /** True once a renewal found the lease gone: the run must stop taking work. */
  get lost(): boolean {
    return this.lostError !== undefined;
  }

  /** Takes the lease if it is free, expired or already `owner`'s; otherwise says who holds it until when. */
  async acquire(owner: string): Promise<{ ok: true } | { ok: false; reason: string }> {
    const [row] = await this.sql.query<{ fence: string }>(
      `INSERT INTO job_leases (job, owner, fence, expires_at, holder)
       VALUES ($1::text, $2::text, 1, now() + $3::integer * interval '1 millisecond', $4::text)
       ON CONFLICT (job) DO UPDATE
         SET owner = excluded.owner, fence = job_leases.fence + 1, expires_at = excluded.expires_at,
             acquired_at = now(), renewed_at = now(), holder = excluded.holder
       WHERE job_leases.expires_at <= now() OR job_leases.owner = excluded.owner
       RETURNING fence::text AS fence`,
      [this.job, owner, this.leaseMs, this.holder],
    );
    if (!row) {
      const [held] = await this.sql.query<{ owner: string; holder: string; until: string }>(
        `SELECT owner, holder, to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS until FROM job_leases WHERE job = $1::text`,
        [this.job],
      );
      return {
        ok: false,
        reason: `another ${this.job} run (${held?.holder || 'unknown entry point'}, run ${held?.owner ?? '?'}) holds the database lease until ${held?.until ?? '?'} unless it renews it`,
      };
    }
    this.current = { job: this.job, fence: row.fence };
    this.lostError = undefined;
    this.timer = setInterval(() => void this.renew().catch(() => undefined), Math.max(1_000, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
    return { ok: true };
  }

  /**
   * Pushes the expiry out by the lease length while the fence is still this run's (nobody took the
   * lease since, even if it ran out while an object held it); throws LeaseLost (and remembers it) otherwise.
   */
  async renew(): Promise<void> {
    const f = this.current;
    if (!f) throw new LeaseLost(`the ${this.job} lease is not held`);
    const r = await this.sql.execute(
      `UPDATE job_leases SET expires_at = now() + $3::integer * interval '1 millisecond', renewed_at = now()
        WHERE job = $1::text AND fence = $2::text::bigint`,
      [f.job, f.fence, this.leaseMs],
    );
    if (r.rowCount === 0) {
      this.lostError = new LeaseLost(`the ${this.job} lease (fence ${f.fence}) expired or was taken by another run`);
      this.stopRenewing();
      throw this.lostError;
    }
  }

  /** Expires the lease now (the row stays: the fence keeps growing). */
  async release(): Promise<void> {
    this.stopRenewing();
    const f = this.current;
    this.current = undefined;
    if (!f) return;
    // A run often ends because its connection broke (a terminated backend, a failover): the pool gives
    // a new one, so try again for a few seconds rather than leave every later run waiting out the lease
    // (the soak's finding G: 2 min of retention and restore refused).
    for (let attempt = 0; ; attempt++) {
      try {
        await this.sql.execute('UPDATE job_leases SET expires_at = now() WHERE job = $1::text AND fence = $2::text::bigint', [
          f.job,
          f.fence,
        ]);
        return;
      } catch (err) {
        const wait = RELEASE_RETRY_MS[attempt];
        if (wait === undefined) throw err;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private stopRenewing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
