/**
 * Assemble stage: read a batch of units (a seed key, or every key of one saver thread) and build
 * each conversation: its documents parsed, the channel values each checkpoint keeps in blobs
 * resolved by the key the saver really writes, its messages from every checkpoint (thread.ts).
 * Whatever cannot be read or understood is listed in `problems` (with the raw entry, for
 * quarantine), never dropped; the judge stage decides what that means for the thread.
 */
import type { Discovery, SaverThread, Unit } from './discover';
import { formatError } from './discover';
import { decodeBlob } from './layouts/blob';
import { parseSaverDoc, type SaverDoc } from './layouts/saver-doc';
import { blobKey } from './layouts/saver-full';
import { parseSeedCheckpoint } from './layouts/seed';
import type { CheckpointStore, RawEntry } from './redis-store';
import type { Snapshot } from './thread';

export interface Problem {
  readonly entry: RawEntry;
  readonly error: string;
}

export interface AssembledUnit {
  readonly unit: Unit;
  readonly layout: 'seed' | 'saver';
  readonly name: string;
  /** Undefined when no document could be parsed. */
  readonly conversationKey: string | undefined;
  readonly customerId: string | null;
  /** Every key of the unit as read: compared at delete time, quarantined whole if the unit cannot be written. */
  readonly reads: RawEntry[];
  /** The documents (checkpoints) with their own time, if any. */
  readonly docs: { entry: RawEntry; time: Date | undefined }[];
  readonly snapshots: Snapshot[];
  /** Keys of the unit that could not be read or understood: documents, blobs, keys of an unexpected type. */
  readonly problems: Problem[];
  /** Declared message blobs that are absent, for a checkpoint no later readable checkpoint descends from. */
  readonly missingBlobs: string[];
  /**
   * Checkpoints whose declared message blob is absent but superseded: a checkpoint made from them
   * (following `parent_checkpoint_id`) holds a readable list of messages, which the channel's
   * reducer derived from theirs. Their messages are in that later list (or were removed by the
   * app); the document itself is kept as a quarantine copy before the thread leaves Redis.
   */
  readonly superseded: { readonly entry: RawEntry; readonly blob: string; readonly by: string }[];
  /** Documents found at discovery that are gone or now name another thread. */
  readonly changed: boolean;
}

const WANTED = ['messages', 'customer_id', 'summary', 'conversation_summary'];

export async function assemble(
  store: CheckpointStore,
  batch: readonly Unit[],
  s: { seedKeyPrefix: string; saverKeyPrefix: string },
): Promise<AssembledUnit[]> {
  const keys = batch.flatMap((u) => (u.kind === 'seed' ? [u.key] : [...u.docs, ...u.companions]));
  const entries = new Map((await store.read(keys)).map((e) => [e.key, e]));
  const out: AssembledUnit[] = [];
  for (const unit of batch) {
    if (unit.kind === 'seed') out.push(assembleSeed(unit.key, entries.get(unit.key), s.seedKeyPrefix));
    else out.push(await assembleThread(store, unit, entries, s.saverKeyPrefix));
  }
  return out;
}

function assembleSeed(key: string, e: RawEntry | undefined, prefix: string): AssembledUnit {
  const base = {
    unit: { kind: 'seed' as const, key },
    layout: 'seed' as const,
    name: key,
    missingBlobs: [],
    superseded: [],
    changed: false,
  };
  if (!e || e.kind === 'missing')
    return { ...base, conversationKey: undefined, customerId: null, reads: [], docs: [], snapshots: [], problems: [], changed: true };
  if (e.value === null)
    return {
      ...base,
      conversationKey: undefined,
      customerId: null,
      reads: [e],
      docs: [{ entry: e, time: undefined }],
      snapshots: [],
      problems: [{ entry: e, error: `Unreadable checkpoint (${e.detail ?? e.kind})` }],
    };
  try {
    const cp = parseSeedCheckpoint(key, e.value, prefix);
    return {
      ...base,
      conversationKey: cp.conversationKey,
      customerId: cp.customerId,
      reads: [e],
      docs: [{ entry: e, time: cp.time }],
      snapshots: [cp.snapshot],
      problems: [],
    };
  } catch (err) {
    return {
      ...base,
      conversationKey: undefined,
      customerId: null,
      reads: [e],
      docs: [{ entry: e, time: undefined }],
      snapshots: [],
      problems: [{ entry: e, error: formatError(err) }],
    };
  }
}

async function assembleThread(
  store: CheckpointStore,
  unit: SaverThread,
  entries: Map<string, RawEntry>,
  prefix: string,
): Promise<AssembledUnit> {
  const problems: Problem[] = [];
  const docs: { entry: RawEntry; time: Date | undefined }[] = [];
  const parsed: SaverDoc[] = [];
  let changed = false;
  for (const key of unit.docs) {
    const e = entries.get(key);
    if (!e || e.kind === 'missing') {
      changed = true;
      continue;
    }
    if (e.value === null) {
      problems.push({ entry: e, error: `Unreadable checkpoint document (${e.detail ?? e.kind})` });
      docs.push({ entry: e, time: undefined });
      continue;
    }
    try {
      const doc = parseSaverDoc(key, e.value, prefix);
      if (doc.thread !== unit.thread) changed = true;
      parsed.push(doc);
      docs.push({ entry: e, time: doc.time });
    } catch (err) {
      problems.push({ entry: e, error: formatError(err) });
      docs.push({ entry: e, time: undefined });
    }
  }
  const companions: RawEntry[] = [];
  for (const key of unit.companions) {
    const e = entries.get(key);
    if (!e || e.kind === 'missing') continue;
    if (e.kind === 'other') problems.push({ entry: e, error: `Unexpected key under a saver prefix (${e.detail ?? e.kind})` });
    companions.push(e);
  }
  // Channel values a checkpoint keeps in blobs, by the key its saver writes.
  const needed = new Set<string>();
  for (const d of parsed)
    for (const ch of WANTED)
      if (!(ch in d.channelValues) && d.channelVersions[ch] !== undefined)
        needed.add(blobKey(d.thread, d.nsKey, ch, d.channelVersions[ch] as string));
  const absent = [...needed].filter((k) => !entries.has(k));
  for (const e of absent.length > 0 ? await store.read(absent) : []) {
    entries.set(e.key, e);
    if (e.kind !== 'missing') companions.push(e);
  }
  const blobs = new Map<string, { ok: true; value: unknown; empty: boolean } | { ok: false }>();
  const blobValue = (key: string) => {
    let b = blobs.get(key);
    if (!b) {
      const e = entries.get(key);
      if (!e || e.kind === 'missing') b = { ok: false };
      else if (e.value === null) b = { ok: false };
      else {
        try {
          const v = decodeBlob(e.value);
          b = v.empty ? { ok: true, value: undefined, empty: true } : { ok: true, value: v.value, empty: false };
        } catch (err) {
          problems.push({ entry: e, error: formatError(err) });
          b = { ok: false };
        }
      }
      blobs.set(key, b);
    }
    return b;
  };
  const channel = (d: SaverDoc, ch: string): unknown => {
    if (ch in d.channelValues) return d.channelValues[ch];
    const v = d.channelVersions[ch];
    if (v === undefined) return undefined;
    const b = blobValue(blobKey(d.thread, d.nsKey, ch, v));
    return b.ok ? b.value : undefined;
  };
  const snapshots: Snapshot[] = [];
  for (const d of parsed) {
    const list = channel(d, 'messages');
    const summary = channel(d, 'summary') ?? channel(d, 'conversation_summary');
    if (list !== undefined && !Array.isArray(list)) {
      const e = entries.get(d.key) as RawEntry;
      problems.push({ entry: e, error: 'The messages channel is not a list' });
      continue;
    }
    snapshots.push({
      source: d.key,
      format: 'langchain',
      time: d.time,
      list: list as unknown[] | undefined,
      summary: typeof summary === 'string' && summary.trim() ? summary : undefined,
    });
  }
  const { missingBlobs, superseded } = absentMessageBlobs(parsed, entries, blobs);
  const newestFirst = [...parsed].sort((a, b) => (b.time?.getTime() ?? 0) - (a.time?.getTime() ?? 0));
  let customerId: string | null = null;
  for (const d of newestFirst) {
    const c = d.metadata.customer_id ?? channel(d, 'customer_id');
    if ((typeof c === 'string' && c) || typeof c === 'number') {
      customerId = String(c);
      break;
    }
  }
  return {
    unit,
    layout: 'saver',
    name: `thread ${unit.thread}`,
    conversationKey: unit.thread,
    customerId,
    reads: [...docs.map((d) => d.entry), ...companions],
    docs,
    snapshots,
    problems,
    missingBlobs,
    superseded,
    changed,
  };
}

/**
 * The checkpoints whose declared `messages` blob is absent, split by whether a checkpoint with a
 * readable list descends from them (same namespace, by `parent_checkpoint_id`): a superseded one
 * loses nothing the later list does not hold; any other keeps its thread in Redis.
 */
function absentMessageBlobs(
  parsed: readonly SaverDoc[],
  entries: ReadonlyMap<string, RawEntry>,
  blobs: ReadonlyMap<string, { ok: boolean }>,
): { missingBlobs: string[]; superseded: AssembledUnit['superseded'] } {
  const readable: SaverDoc[] = [];
  const absent: { doc: SaverDoc; blob: string }[] = [];
  for (const d of parsed) {
    const v = d.channelVersions.messages;
    if ('messages' in d.channelValues) readable.push(d);
    else if (v !== undefined) {
      const blob = blobKey(d.thread, d.nsKey, 'messages', v);
      const e = entries.get(blob);
      if (!e || e.kind === 'missing') absent.push({ doc: d, blob });
      else if (blobs.get(blob)?.ok) readable.push(d);
    }
  }
  if (absent.length === 0) return { missingBlobs: [], superseded: [] };
  const id = (ns: string, checkpointId: string) => `${ns}\u0000${checkpointId}`;
  const byId = new Map(parsed.flatMap((d) => (d.checkpointId ? [[id(d.ns, d.checkpointId), d] as const] : [])));
  // Every ancestor of a readable checkpoint, with the readable descendant that covers it.
  const coveredBy = new Map<SaverDoc, SaverDoc>();
  for (const y of readable) {
    let p = y.parentId ? byId.get(id(y.ns, y.parentId)) : undefined;
    while (p && p !== y && !coveredBy.has(p)) {
      coveredBy.set(p, y);
      p = p.parentId ? byId.get(id(p.ns, p.parentId)) : undefined;
    }
  }
  const missing = new Set<string>();
  const superseded: { entry: RawEntry; blob: string; by: string }[] = [];
  for (const { doc, blob } of absent) {
    const by = coveredBy.get(doc);
    if (by) superseded.push({ entry: entries.get(doc.key) as RawEntry, blob, by: by.key });
    else missing.add(blob);
  }
  // A blob some checkpoint still needs blocks the thread: its superseded declarants change nothing then.
  return { missingBlobs: [...missing], superseded: missing.size > 0 ? [] : superseded };
}

export type { Discovery };
