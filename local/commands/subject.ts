/**
 * `npm run subject -- find|export|erase|verify`: one person's data (GDPR) across PostgreSQL
 * (DATABASE_URL), live checkpoints (REDIS_URL, optional) and cold storage (COLD_BUCKET, S3_ENDPOINT).
 */
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { CheckpointStore } from '../../lambdas/archive/redis-store';
import { erase, exportSubject, type Findings, find, type SubjectDeps, verify } from '../../lambdas/privacy/subject';
import type { Identifier } from '../../lambdas/privacy/subjects';
import { memoryLog } from '../../lambdas/shared/observability';
import type { Sql } from '../../lambdas/shared/sql/types';
import { ENVIRONMENT_NAMES, getEnvironment } from '../../lib/config';
import { connectRedisOrExplain } from '../archive-run';
import { invokeJob } from '../invoke';
import { coldStoreFromEnv } from '../retention-run';
import { fail, lambdaClient, output, UsageError, withDatabase } from './common';

interface IdOptions {
  env?: string;
  region?: string;
  customer?: string;
  phone?: string;
  psid?: string;
  guest?: string;
  lead?: string;
  conversation?: string;
  json?: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const phone = (v: string) => {
  const n = v.replace(/[\s().-]/g, '');
  if (!/^\+[1-9]\d{6,14}$/.test(n)) throw new InvalidArgumentError(`not a phone number in E.164 form (e.g. +34600000001): "${v}"`);
  return n;
};
const uuid = (v: string) => {
  if (!UUID.test(v)) throw new InvalidArgumentError(`not a lead id (a UUID): "${v}"`);
  return v.toLowerCase();
};
const text = (v: string) => {
  if (!v.trim()) throw new InvalidArgumentError('must not be empty');
  return v;
};

function identifiers(o: IdOptions): Identifier[] {
  const out: Identifier[] = [];
  if (o.customer) out.push({ kind: 'customer', value: o.customer });
  if (o.phone) out.push({ kind: 'contact', value: o.phone });
  if (o.psid) out.push({ kind: 'contact', value: o.psid });
  if (o.guest) out.push({ kind: 'guest', value: o.guest });
  if (o.lead) out.push({ kind: 'lead', value: o.lead });
  if (o.conversation) out.push({ kind: 'conversation', value: o.conversation });
  if (out.length === 0)
    throw new UsageError('Name the subject: --customer, --phone, --psid, --guest, --lead or --conversation (e.g. --phone +34600000001)');
  return out;
}

function withIds(c: Command): Command {
  return c
    .option('--customer <id>', 'customer id', text)
    .option('--phone <e164>', 'phone number, E.164 (+34600000001)', phone)
    .option('--psid <id>', 'Messenger page-scoped id', text)
    .option('--guest <id>', 'guest id (analytics events)', text)
    .option('--lead <uuid>', 'lead id', uuid)
    .option('--conversation <key>', 'conversation key (LangGraph thread id)', text)
    .addOption(new Option('--env <env>', 'run it on the deployed privacy function of this environment').choices(ENVIRONMENT_NAMES))
    .option('--region <region>', 'AWS region (with --env; default AWS_REGION)')
    .option('--json', 'machine-readable output');
}

/** With --env: the deployed privacy function does the work (lambdas/privacy/handler.ts); its result comes back. */
async function onLambda<T>(o: { env?: string; region?: string }, payload: Record<string, unknown>): Promise<T> {
  const [result] = await invokeJob({
    client: await lambdaClient(o),
    env: o.env as string,
    job: 'privacy',
    payload,
    loop: false,
    print: () => {},
  });
  return result as T;
}

/** The stores: PostgreSQL, cold storage, and Redis when REDIS_URL is set. */
async function withStores<T>(fn: (deps: SubjectDeps) => Promise<T>): Promise<T> {
  const r = getEnvironment(process.env.ENV_NAME ?? 'dev').retention;
  const store = coldStoreFromEnv();
  return withDatabase(async (sql: Sql) => {
    const redisUrl = process.env.REDIS_URL;
    const redis = redisUrl ? new CheckpointStore(await connectRedisOrExplain(redisUrl)) : undefined;
    try {
      return await fn({ sql, store, redis, log: memoryLog(), policies: r.policies, rowGroupRows: r.rowGroupRows });
    } finally {
      await redis?.quit();
    }
  });
}

function printFindings(f: Findings): void {
  const hot = Object.entries(f.postgres).filter(([, n]) => n > 0);
  console.log(`Found ${f.identifiers} identifier(s) for this subject.`);
  console.log(`PostgreSQL: ${hot.length === 0 ? 'nothing' : hot.map(([t, n]) => `${t} ${n}`).join(', ')}`);
  console.log(`Live checkpoints (Redis): ${f.redis.searched ? `${f.redis.keys.length} key(s)` : 'not searched (REDIS_URL not set)'}`);
  for (const k of f.redis.keys.slice(0, 20)) console.log(`  ${k}`);
  console.log(`Cold storage: ${f.cold.length} object(s) (${f.objectsRead} read, named by the subject index)`);
  for (const c of f.cold) console.log(`  s3 ${c.key}  ${c.rows} row(s) of ${c.table}`);
}

export function register(program: Command): void {
  const subject = program
    .command('subject')
    .description("one person's data (GDPR): find it in every store, export it, erase it with a receipt, verify an erasure");

  withIds(subject.command('find').description('list every place that holds the subject’s data')).action(async (o: IdOptions) => {
    const ids = identifiers(o);
    const findings = o.env
      ? await onLambda<Findings>(o, { action: 'find', identifiers: ids })
      : await withStores(async (deps) => (await find(deps, ids)).findings);
    output(o.json, findings, () => printFindings(findings));
  });

  withIds(subject.command('export').description('everything found, as JSON per store and the conversations as text, in a zip'))
    .option('--out <file.zip>', 'where to write the zip (required without --env; with --env the zip goes to the bucket, _exports/)')
    .action(async (o: IdOptions & { out?: string }) => {
      const ids = identifiers(o);
      if (o.env) {
        const r = await onLambda<{ key: string; bytes: number; findings: Findings }>(o, { action: 'export', identifiers: ids });
        output(o.json, r, () => {
          console.log(`Wrote s3 ${r.key} (${r.bytes} bytes) in the cold-storage bucket of ${o.env}`);
          printFindings(r.findings);
        });
        return;
      }
      if (!o.out) throw new UsageError('--out FILE.zip is required (or --env, which writes the zip to the bucket)');
      const out = o.out;
      await withStores(async (deps) => {
        const { zip, findings } = await exportSubject(deps, ids);
        writeFileSync(out, zip);
        output(o.json, { out, bytes: zip.byteLength, findings }, () => {
          console.log(`Wrote ${out} (${zip.byteLength} bytes)`);
          printFindings(findings);
        });
      });
    });

  withIds(
    subject
      .command('erase')
      .description('erase the subject from every store for good (tombstones, Redis, PostgreSQL, cold objects), with a receipt'),
  )
    .option('--dry-run', 'show what would be erased; change nothing')
    .action(async (o: IdOptions & { dryRun?: boolean }) => {
      const ids = identifiers(o);
      const r: Awaited<ReturnType<typeof erase>> = o.env
        ? await onLambda(o, { action: 'erase', identifiers: ids, dryRun: o.dryRun ?? false })
        : await withStores((deps) => erase(deps, ids, { dryRun: o.dryRun, holder: `cli pid ${process.pid} on ${hostname()} (erasure)` }));
      if (o.dryRun) {
        output(o.json, r.findings, () => {
          console.log('Dry run: nothing changed. An erasure would remove:');
          if (r.findings) printFindings(r.findings);
        });
        return;
      }
      output(o.json, r.receipt, () => {
        const pg = Object.entries(r.receipt.postgres).filter(([, n]) => n > 0);
        console.log(`Erased (${r.resumed ? 'resumed ' : ''}request ${r.receipt.requestId})`);
        console.log(`PostgreSQL rows deleted: ${pg.length === 0 ? 'none' : pg.map(([t, n]) => `${t} ${n}`).join(', ')}`);
        console.log(`Redis keys deleted: ${r.receipt.redis.searched ? r.receipt.redis.keysDeleted : 'not searched (REDIS_URL not set)'}`);
        console.log(`Cold objects rewritten: ${r.receipt.cold.length} (old versions removed)`);
        console.log(`Tombstones: ${r.receipt.tombstones} identifier digest(s); receipt s3 ${r.receipt.receiptKey}`);
      });
    });

  subject
    .command('verify')
    .description('re-check that nothing of an erased subject remains')
    .argument('<request>', 'the erasure request id (erasure-…)')
    .addOption(new Option('--env <env>', 'verify on the deployed privacy function of this environment').choices(ENVIRONMENT_NAMES))
    .option('--region <region>', 'AWS region (with --env; default AWS_REGION)')
    .option('--json', 'machine-readable output')
    .action(async (request: string, o: { json?: boolean; env?: string; region?: string }) => {
      const v: Awaited<ReturnType<typeof verify>> = o.env
        ? await onLambda(o, { action: 'verify', requestId: request })
        : await withStores((deps) => verify(deps, request));
      output(o.json, v, () => {
        console.log(v.ok ? `Verified: nothing of ${request} remains.` : `NOT verified: data of ${request} remains.`);
        for (const [where, n] of Object.entries(v.remaining)) console.log(`  ${where}: ${n}`);
      });
      if (!v.ok) fail();
    });
}
