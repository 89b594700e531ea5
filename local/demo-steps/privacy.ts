/**
 * Demo step: one person's data (GDPR) — found from one identifier in PostgreSQL, Redis and the cold
 * objects the subject index names, exported as a zip, erased with a receipt, and verified.
 */
import { writeFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { CheckpointStore } from '../../lambdas/archive/redis-store';
import { erase, exportSubject, find, verify } from '../../lambdas/privacy/subject';
import type { Identifier } from '../../lambdas/privacy/subjects';
import type { ColdStore } from '../../lambdas/retention/cold-store';
import { memoryLog } from '../../lambdas/shared/observability';
import { getEnvironment } from '../../lib/config';
import type { DemoContext } from '../demo';

export async function privacyStep(ctx: DemoContext, store: ColdStore, conversationKey: string): Promise<void> {
  const r = getEnvironment('dev').retention;
  const deps = {
    sql: ctx.sql,
    store,
    redis: new CheckpointStore(ctx.redis),
    log: memoryLog(),
    policies: r.policies,
    rowGroupRows: r.rowGroupRows,
  };
  const who: Identifier[] = [{ kind: 'conversation', value: conversationKey }];
  ctx.say(`\n━━ Privacy: one person's data, from one identifier (conversation ${conversationKey})\n`);

  const { findings } = await find(deps, who);
  const hot = Object.entries(findings.postgres).filter(([, n]) => n > 0);
  ctx.say(`Found: PostgreSQL ${hot.map(([t, n]) => `${t} ${n}`).join(', ') || 'nothing'}; Redis ${findings.redis.keys.length} key(s);`);
  ctx.say(
    `       cold storage ${findings.cold.length} object(s): ${findings.cold.map((c) => `${c.rows} ${c.table}`).join(', ') || 'none'} (${findings.objectsRead} read, named by the subject index)`,
  );

  const { zip } = await exportSubject(deps, who);
  const file = ctx.file('subject.zip');
  writeFileSync(file, zip);
  ctx.say(`Export (what the person receives): ${zip.byteLength} bytes — ${Object.keys(unzipSync(zip)).sort().join(', ')}`);

  const { receipt } = await erase(deps, who);
  const pg = Object.entries(receipt.postgres).filter(([, n]) => n > 0);
  ctx.say(
    `Erased (request ${receipt.requestId}): PostgreSQL ${pg.map(([t, n]) => `${t} ${n}`).join(', ') || 'nothing'}; Redis ${receipt.redis.keysDeleted} key(s);`,
  );
  for (const c of receipt.cold)
    ctx.say(
      `  s3 ${c.oldKey} (sha256 ${c.oldSha256.slice(0, 12)}…) → ${c.newKey ? `${c.newKey} (sha256 ${c.newSha256?.slice(0, 12)}…)` : 'nothing left'}: ${c.rowsRemoved} row(s) removed, ${c.versionsRemoved} version(s) deleted`,
    );
  ctx.say(`Receipt (no personal data: ${receipt.tombstones} identifier digests, counts, keys, checksums): s3 ${receipt.receiptKey}`);
  const v = await verify(deps, receipt.requestId);
  ctx.say(`Verify: ${v.ok ? 'nothing of the subject remains' : `NOT clean: ${JSON.stringify(v.remaining)}`}`);
}
