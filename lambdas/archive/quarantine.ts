/**
 * Quarantine that cannot fail: one item per statement group and transaction, the raw value as
 * bytes (`bytea`, sent as base64 text so both drivers carry it) with its size and sha256, large
 * values appended in pieces under the Data API's request limit. Keys and errors are made storable
 * (no NUL, no lone surrogate). A failure is logged (key, size — never content) and counted, and
 * never stops the run — unless the database itself is unreachable: then nothing can be kept there,
 * and the DatabaseUnreachableError stops the run (one error, not one per key).
 */
import type { Log } from '../shared/observability';
import { databaseOutage } from '../shared/sql/outage';
import { p, type Sql } from '../shared/sql/types';
import { safeLabel, sha256 } from './values';

export interface QuarantineItem {
  readonly key: string;
  /** The value's bytes as read; null when there is none (a key of another type, unreadable). */
  readonly raw: Buffer | null;
  readonly error: string;
  readonly layout: string;
  readonly keyType?: string;
}

/** Bytes per piece: 1.5 MiB becomes 2 MiB of base64, well under 4 MiB per request. */
export const QUARANTINE_PIECE_BYTES = 1_536 * 1024;

export type QuarantineOutcome = 'new' | 'seen' | 'failed';

export async function quarantine(sql: Sql, item: QuarantineItem, runId: string | undefined, log: Log): Promise<QuarantineOutcome> {
  const raw = item.raw ?? Buffer.alloc(0);
  const digest = sha256(raw);
  try {
    return await sql.transaction(async (tx) => {
      const first = raw.subarray(0, QUARANTINE_PIECE_BYTES);
      const [row] = await tx.query<{ id: number; inserted: boolean }>(
        `INSERT INTO checkpoint_quarantine (redis_key, value_sha256, layout, error, raw_bytes, value_bytes, key_type, run_id)
         VALUES ($1::text, $2::text, $3::text, $4::text, decode($5::text, 'base64'), $6::bigint, $7::text, $8::text)
         ON CONFLICT (redis_key, value_sha256) DO UPDATE
           SET last_seen_at = now(), seen_count = checkpoint_quarantine.seen_count + 1, run_id = EXCLUDED.run_id,
               error = EXCLUDED.error
         RETURNING id, (xmax = 0) AS inserted`,
        [
          p.text(safeLabel(item.key, 2_000)),
          p.text(digest),
          p.text(item.layout),
          p.text(safeLabel(item.error, 2_000)),
          p.text(item.raw === null ? null : first.toString('base64')),
          p.bigint(item.raw === null ? null : raw.length),
          p.text(item.keyType ?? null),
          p.text(runId ?? null),
        ],
      );
      if (!row) throw new Error('quarantine insert returned no row');
      if (row.inserted) {
        for (let at = QUARANTINE_PIECE_BYTES; at < raw.length; at += QUARANTINE_PIECE_BYTES) {
          await tx.execute(`UPDATE checkpoint_quarantine SET raw_bytes = raw_bytes || decode($2::text, 'base64') WHERE id = $1::bigint`, [
            p.bigint(row.id),
            p.text(raw.subarray(at, at + QUARANTINE_PIECE_BYTES).toString('base64')),
          ]);
        }
      }
      return row.inserted ? 'new' : 'seen';
    });
  } catch (err) {
    const outage = await databaseOutage(sql, err);
    if (outage) throw outage;
    log.error(`Could not quarantine ${safeLabel(item.key)} (${raw.length} bytes): ${redact((err as Error)?.message ?? String(err))}`, {
      key: safeLabel(item.key),
      bytes: raw.length,
    });
    return 'failed';
  }
}

/** A database error without the quoted values some of them carry. */
export const redact = (message: string) => safeLabel(message.replace(/"[^"]*"/g, '"…"').replace(/'[^']*'/g, "'…'"), 500);
