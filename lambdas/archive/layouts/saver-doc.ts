/**
 * A checkpoint document of the LangGraph Redis savers (Python `langgraph-checkpoint-redis` and JS
 * `@langchain/langgraph-checkpoint-redis`, full or shallow). Thread and namespace come from the
 * document; the key must then be one that a saver layout writes for them (saver-full.ts,
 * saver-shallow.ts) — a document that does not explain its key is malformed.
 */
import { CheckpointFormatError, isObject, parseJson, toDate } from '../values';
import { explainFullKey } from './saver-full';
import { explainShallowKey } from './saver-shallow';

export interface SaverDoc {
  readonly key: string;
  readonly layout: 'saver-full' | 'saver-shallow';
  readonly thread: string;
  /** The namespace as the graph knows it ('' for the root graph). */
  readonly ns: string;
  /** The namespace as written in this document's key (JS and shallow savers: raw; Python full saver: `__empty__` for the root). */
  readonly nsKey: string;
  readonly checkpointId: string | undefined;
  /** The checkpoint this one was made from (same thread and namespace), if the document says. */
  readonly parentId: string | undefined;
  readonly time: Date | undefined;
  readonly channelValues: Record<string, unknown>;
  /** Channel → version, for the channels the checkpoint declares. */
  readonly channelVersions: Record<string, string>;
  readonly metadata: Record<string, unknown>;
}

export const EMPTY_NS = '__empty__';

/** The namespace segments a full saver may write in keys for `ns` (JS raw, Python `__empty__` for the root). */
export const nsKeyForms = (ns: string): string[] => (ns === '' ? ['', EMPTY_NS] : [ns]);

export function parseSaverDoc(key: string, raw: string, prefix: string): SaverDoc {
  const doc = parseJson(raw, 'Checkpoint document');
  if (!isObject(doc)) throw new CheckpointFormatError('Checkpoint document is not a JSON object');
  let checkpoint: unknown = doc.checkpoint;
  if (typeof checkpoint === 'string') checkpoint = parseJson(checkpoint, 'checkpoint field');
  if (!isObject(checkpoint)) throw new CheckpointFormatError('Checkpoint document has no "checkpoint" object');
  const thread = doc.thread_id;
  if (typeof thread !== 'string' || !thread) throw new CheckpointFormatError('Checkpoint document has no thread_id');
  const rawNs = doc.checkpoint_ns ?? '';
  if (typeof rawNs !== 'string') throw new CheckpointFormatError('Checkpoint document has a checkpoint_ns that is not a string');
  const ns = rawNs === EMPTY_NS ? '' : rawNs;
  const checkpointId = typeof doc.checkpoint_id === 'string' && doc.checkpoint_id ? doc.checkpoint_id : undefined;
  const explained = explainFullKey(key, prefix, thread, ns, checkpointId) ?? explainShallowKey(key, prefix, thread, ns);
  if (!explained) throw new CheckpointFormatError("The document's thread_id, checkpoint_ns and checkpoint_id do not explain its key");
  const versions: Record<string, string> = {};
  if (isObject(checkpoint.channel_versions))
    for (const [c, v] of Object.entries(checkpoint.channel_versions)) if (v !== null && v !== undefined) versions[c] = String(v);
  return {
    key,
    layout: explained.layout,
    thread,
    ns,
    nsKey: explained.nsKey,
    checkpointId,
    parentId: typeof doc.parent_checkpoint_id === 'string' && doc.parent_checkpoint_id ? doc.parent_checkpoint_id : undefined,
    time: toDate(doc.checkpoint_ts) ?? toDate(checkpoint.ts),
    channelValues: isObject(checkpoint.channel_values) ? checkpoint.channel_values : {},
    channelVersions: versions,
    metadata: readMetadata(doc.metadata),
  };
}

/** The Python full saver (every release) and ≤ 0.0.8 shallow saver store the metadata as JSON text; the others as an object. */
function readMetadata(m: unknown): Record<string, unknown> {
  const v = typeof m === 'string' ? parseJson(m, 'metadata field') : m;
  return isObject(v) ? v : {};
}
