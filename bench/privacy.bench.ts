/**
 * Erasing one subject (issue 25): N cold messages (other people's, ≈ 100 objects) and M hot rows,
 * one subject's conversation among them; the erasure's time, objects read and rewritten — only
 * those the subject index names — next to a full scan of the bucket's objects measured in the
 * same run (what finding the subject without an index would read).
 */

import { erase } from '../lambdas/privacy/subject';
import type { ColdStore } from '../lambdas/retention/cold-store';
import { openColdStore } from '../lambdas/retention/cold-store';
import { readBack } from '../lambdas/retention/parquet';
import { applyRetention } from '../lambdas/retention/retention';
import { memoryLog } from '../lambdas/shared/observability';
import { deadline } from '../lambdas/shared/runtime';
import type { PgSql } from '../lambdas/shared/sql/pg-driver';
import { RETENTION_POLICIES } from '../lib/config';
import { startS3Process } from '../local/services';
import { seed } from './retention.bench';

export interface PrivacyBench {
  readonly coldMessages: number;
  readonly hotRows: number;
  readonly objects: number;
  readonly erase: { seconds: number; objectsRead: number; objectsRewritten: number; rowsRemoved: number };
  readonly fullScan: { seconds: number; objectsRead: number; rowsRead: number };
}

const SUBJECT = '00000000-0000-0000-0000-0000000a0001';

export async function benchPrivacy(sql: PgSql, coldN: number, hotN: number): Promise<PrivacyBench> {
  await seed(sql, coldN); // other people's messages, all past retention
  // The subject: one conversation of 20 messages on one old day, and a recent one still hot.
  await sql.execute(
    `INSERT INTO conversations (id, conversation_key, source, customer_id, external_id, started_at, last_message_at)
     VALUES ($1::uuid, 'wa:subject-1', 'live', 'cust-subject', '+34600999999', '2025-01-20', '2025-01-20 12:00+00')`,
    [SUBJECT],
  );
  await sql.execute(
    `INSERT INTO messages (conversation_id, message_key, role, content, created_at, source)
     SELECT $1::uuid, 's' || i, 'user', 'the subject says ' || i, '2025-01-20 10:00+00'::timestamptz + i * interval '1 minute', 'live'
       FROM generate_series(1, 20) i`,
    [SUBJECT],
  );
  // Hot rows: recent conversations (other people's) and the subject's current one.
  await sql.execute(
    `INSERT INTO conversations (id, conversation_key, source, started_at, last_message_at)
     SELECT ('00000000-0000-0000-0001-' || lpad(to_hex(i), 12, '0'))::uuid, 'hot-' || i, 'live', now(), now() FROM generate_series(1, $1::integer) i`,
    [Math.max(1, Math.floor(hotN / 20))],
  );
  await sql.execute(
    `INSERT INTO messages (conversation_id, message_key, role, content, created_at, source)
     SELECT ('00000000-0000-0000-0001-' || lpad(to_hex(1 + i % $2::integer), 12, '0'))::uuid, 'h' || i, 'user', 'hola ' || i, now() - i * interval '1 second', 'live'
       FROM generate_series(1, $1::integer) i`,
    [hotN, Math.max(1, Math.floor(hotN / 20))],
  );
  await sql.execute(
    `INSERT INTO conversations (conversation_key, source, customer_id, external_id, started_at, last_message_at)
     VALUES ('wa:subject-2', 'live', 'cust-subject', '+34600999999', now(), now())`,
  );
  await sql.execute('ANALYZE');

  const bucket = 'bench-privacy';
  const s3 = await startS3Process([bucket]);
  try {
    const real = openColdStore({
      bucket,
      endpoint: s3.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const read = new Set<string>();
    const store: ColdStore = {
      bucket,
      head: (k) => real.head(k),
      reader: (k, size) => {
        read.add(k);
        return real.reader(k, size);
      },
      upload: (k, body, c) => real.upload(k, body, c),
      list: (p) => real.list(p),
      removeAllVersions: (k) => real.removeAllVersions(k),
    };
    const settings = {
      timeZone: 'Europe/Madrid',
      maxRowsPerObject: Math.max(1_000, Math.ceil(coldN / 100)),
      rowGroupRows: 10_000,
      policies: RETENTION_POLICIES,
    };
    await applyRetention({ sql, store: real, log: memoryLog(), deadline: deadline(undefined), runId: 'bench-privacy' }, settings, {
      tables: ['messages', 'conversations'],
    });
    const [{ n: objects } = { n: 0 }] = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM archive_manifest');

    // The full scan: every object under the tables' prefixes, read and decoded (what finding without an index costs).
    let t0 = performance.now();
    let scanned = 0;
    let rowsRead = 0;
    for (const prefix of ['messages/', 'conversations/'])
      for await (const keys of real.list(prefix))
        for (const k of keys) {
          const head = await real.head(k);
          const r = await readBack(real.reader(k, head?.size ?? 0), async () => undefined);
          scanned++;
          rowsRead += r.rows;
        }
    const fullScan = { seconds: (performance.now() - t0) / 1000, objectsRead: scanned, rowsRead };

    read.clear();
    t0 = performance.now();
    const { receipt } = await erase({ sql, store, log: memoryLog(), policies: RETENTION_POLICIES, rowGroupRows: settings.rowGroupRows }, [
      { kind: 'contact', value: '+34600999999' },
    ]);
    return {
      coldMessages: coldN,
      hotRows: hotN,
      objects: Number(objects),
      erase: {
        seconds: (performance.now() - t0) / 1000,
        objectsRead: read.size,
        objectsRewritten: receipt.cold.length,
        rowsRemoved: receipt.cold.reduce((a, c) => a + c.rowsRemoved, 0) + Object.values(receipt.postgres).reduce((a, n) => a + n, 0),
      },
      fullScan,
    };
  } finally {
    await s3.stop();
  }
}
