/**
 * Discover stage: SCAN (never KEYS) every key family, read every saver document once and group
 * documents by the thread the DOCUMENT names (never by splitting the key: thread ids, namespaces
 * and channel names contain `:`). Companion keys (blobs, writes, write-key sets, latest pointers)
 * join the thread whose `{thread}:{namespace as in its keys}` they start with (the longest such).
 * A document that cannot be read or parsed, or does not explain its key, is malformed: reported
 * to the caller, and every thread its key could belong to is blocked (kept whole in Redis).
 */
import { parseSaverDoc } from './layouts/saver-doc';
import type { CheckpointStore, RawEntry } from './redis-store';
import { CheckpointFormatError } from './values';

export const COMPANION_PREFIXES = ['checkpoint_blob:', 'checkpoint_write:', 'write_keys_zset:', 'checkpoint_latest:'] as const;

export interface SeedUnit {
  readonly kind: 'seed';
  readonly key: string;
}

export interface SaverThread {
  readonly kind: 'saver';
  readonly thread: string;
  readonly docs: string[];
  readonly companions: string[];
  /** Malformed documents whose key may belong to this thread: while any exists, nothing of the thread goes. */
  readonly blockedBy: string[];
}

export type Unit = SeedUnit | SaverThread;

export interface MalformedKey {
  readonly entry: RawEntry;
  readonly error: string;
  readonly layout: string;
}

export interface Discovery {
  readonly units: Unit[];
  /** Companion keys of no thread with documents (left to their TTL). */
  readonly orphans: number;
}

export interface DiscoverSettings {
  readonly seedKeyPrefix: string;
  readonly saverKeyPrefix: string;
  readonly companionPrefixes?: readonly string[];
  readonly readChunk?: number;
}

async function collect(store: CheckpointStore, pattern: string, skip?: string): Promise<string[]> {
  const out: string[] = [];
  for await (const keys of store.scan(pattern)) for (const k of keys) if (!skip || !k.startsWith(skip)) out.push(k);
  return out;
}

/** A message for a value that could not be parsed: never its content. */
export function formatError(err: unknown): string {
  return err instanceof CheckpointFormatError ? err.message : `unexpected ${(err as Error)?.name ?? 'error'} while parsing`;
}

/** Every prefix of `rest` that ends just before a `:` (longest first), and `rest` itself first. */
function* colonPrefixes(rest: string): Generator<string> {
  yield rest;
  for (let i = rest.lastIndexOf(':'); i >= 0; i = i === 0 ? -1 : rest.lastIndexOf(':', i - 1)) yield rest.slice(0, i);
}

export async function discover(
  store: CheckpointStore,
  s: DiscoverSettings,
  onMalformed: (m: MalformedKey) => Promise<void>,
): Promise<Discovery> {
  const units: Unit[] = (await collect(store, `${s.seedKeyPrefix}*`)).map((key) => ({ kind: 'seed', key }));
  const docKeys = await collect(store, `${s.saverKeyPrefix}*`, s.seedKeyPrefix.startsWith(s.saverKeyPrefix) ? s.seedKeyPrefix : undefined);
  const threads = new Map<string, SaverThread>();
  /** `{thread}:{nsKey}` → thread, for companions. */
  const spaces = new Map<string, string>();
  const malformed: string[] = [];
  const chunk = s.readChunk ?? 1_000;
  for (let i = 0; i < docKeys.length; i += chunk) {
    for (const entry of await store.read(docKeys.slice(i, i + chunk))) {
      if (entry.kind === 'missing') continue; // gone since the SCAN: nothing to archive or delete
      let doc: ReturnType<typeof parseSaverDoc> | undefined;
      let error = 'Unparseable checkpoint document';
      if (entry.value === null) error = `Unreadable checkpoint document (${entry.detail ?? entry.kind})`;
      else {
        try {
          doc = parseSaverDoc(entry.key, entry.value, s.saverKeyPrefix);
        } catch (err) {
          error = formatError(err);
        }
      }
      if (!doc) {
        malformed.push(entry.key);
        await onMalformed({ entry, error, layout: 'saver' });
        continue;
      }
      let t = threads.get(doc.thread);
      if (!t) {
        t = { kind: 'saver', thread: doc.thread, docs: [], companions: [], blockedBy: [] };
        threads.set(doc.thread, t);
      }
      t.docs.push(entry.key);
      spaces.set(`${doc.thread}:${doc.nsKey}`, doc.thread);
      if (doc.nsKey === '' || doc.nsKey === '__empty__') {
        spaces.set(`${doc.thread}:`, doc.thread);
        spaces.set(`${doc.thread}:__empty__`, doc.thread);
      }
    }
  }
  for (const key of malformed) {
    const rest = key.slice(s.saverKeyPrefix.length);
    for (const candidate of colonPrefixes(rest)) threads.get(candidate)?.blockedBy.push(key);
  }
  let orphans = 0;
  for (const prefix of s.companionPrefixes ?? COMPANION_PREFIXES) {
    if (s.saverKeyPrefix.startsWith(prefix) || prefix.startsWith(s.saverKeyPrefix)) continue;
    for (const key of await collect(store, `${prefix}*`)) {
      let owner: string | undefined;
      for (const candidate of colonPrefixes(key.slice(prefix.length))) {
        owner = spaces.get(candidate);
        if (owner !== undefined) break;
      }
      if (owner === undefined) orphans++;
      else threads.get(owner)?.companions.push(key);
    }
  }
  for (const t of threads.values()) units.push(t);
  return { units, orphans };
}
