/**
 * Privacy Lambda: invoked by an operator (`npm run invoke -- privacy --env prod --payload '{"action":
 * "find", "identifiers": [{"kind": "contact", "value": "+34600000001"}]}'`), never scheduled.
 * Thin: wiring only. The only function that rewrites cold objects for an erasure.
 */
import { Readable } from 'node:stream';
import { ConfigError } from '../../lib/config';
import { openCheckpointStore } from '../archive/open-store';
import { S3ColdStore, s3Client } from '../retention/cold-store';
import { createSql, loadRuntimeConfig } from '../shared/deps';
import { powertools } from '../shared/observability';
import { erase, exportSubject, find, requestIdOf, SubjectError, verify } from './subject';
import { type Identifier, SUBJECT_KINDS } from './subjects';

const config = loadRuntimeConfig();
const bucket = process.env.COLD_BUCKET;
if (!bucket) throw new ConfigError('The privacy function needs COLD_BUCKET');
const { log } = powertools('privacy');
const sql = createSql(config.sql);
const store = new S3ColdStore(s3Client(process.env.S3_ENDPOINT), bucket);
const r = config.env.retention;

export interface PrivacyEvent {
  readonly action: 'find' | 'export' | 'erase' | 'verify';
  readonly identifiers?: readonly Identifier[];
  /** erase: show what would go, change nothing. */
  readonly dryRun?: boolean;
  /** verify: the erasure's request id. */
  readonly requestId?: string;
}

function identifiersOf(event: PrivacyEvent): Identifier[] {
  const ids = event.identifiers ?? [];
  if (!Array.isArray(ids) || ids.length === 0)
    throw new SubjectError('identifiers: name the subject, e.g. [{"kind": "contact", "value": "+34600000001"}]');
  for (const i of ids)
    if (!SUBJECT_KINDS.includes(i?.kind) || typeof i.value !== 'string' || !i.value)
      throw new SubjectError(`identifiers: ${JSON.stringify(i)} is not {"kind": one of ${SUBJECT_KINDS.join(', ')}, "value": "…"}`);
  return ids as Identifier[];
}

export async function handler(event: PrivacyEvent) {
  if (event?.action === 'verify') {
    if (!event.requestId) throw new SubjectError('verify needs requestId');
    return verify({ sql, store, log, policies: r.policies }, event.requestId);
  }
  const identifiers = identifiersOf(event);
  const redis = config.redis ? await openCheckpointStore(config.redis) : undefined;
  const deps = { sql, store, redis, log, policies: r.policies, rowGroupRows: r.rowGroupRows };
  try {
    switch (event.action) {
      case 'find':
        return (await find(deps, identifiers)).findings;
      case 'export': {
        // The zip goes to the bucket under its own prefix (kept out of every table's), for the operator to hand over.
        const { zip, findings } = await exportSubject(deps, identifiers);
        const key = `_exports/${requestIdOf(identifiers).replace(/^erasure-/, 'subject-')}-${Date.now()}.zip`;
        await store.upload(key, Readable.from([Buffer.from(zip)]), 'absent');
        return { key, bytes: zip.byteLength, findings };
      }
      case 'erase':
        // awaited here: the connection closes in `finally` only once the erasure is done
        return await erase(deps, identifiers, { dryRun: event.dryRun, holder: 'lambda privacy' });
      default:
        throw new SubjectError(`action must be find, export, erase or verify, not ${JSON.stringify(event?.action)}`);
    }
  } finally {
    await redis?.quit().catch(() => undefined);
  }
}
