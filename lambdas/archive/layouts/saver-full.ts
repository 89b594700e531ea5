/**
 * The full savers: one document per checkpoint, `checkpoint:{thread}:{ns}:{checkpoint_id}`.
 * Python ≥ 0.1 writes the root namespace as `__empty__` in the key and the document, with the
 * channel values inline (langgraph-checkpoint-redis `__init__.py` `put`, v0.1.0 … 0.5.2); Python
 * ≤ 0.0.8 the same, its `checkpoint_id` (key and document) being the config's — the parent's, the
 * zero UUID first — and a blob per changed channel besides the inline values; the JS saver writes the raw namespace in the key (`checkpoint:{thread}::{id}`)
 * and `__empty__` in the document, and keeps only the channels a step changed inline — the others
 * are in `checkpoint_blob:{thread}:{ns as in the key}:{channel}:{version}` (blob.ts).
 */
import { nsKeyForms } from './saver-doc';

export function explainFullKey(
  key: string,
  prefix: string,
  thread: string,
  ns: string,
  checkpointId: string | undefined,
): { layout: 'saver-full'; nsKey: string } | undefined {
  if (!checkpointId) return undefined;
  const head = `${prefix}${thread}:`;
  if (!key.startsWith(head)) return undefined;
  const after = key.slice(head.length);
  for (const nsKey of nsKeyForms(ns)) if (after === `${nsKey}:${checkpointId}`) return { layout: 'saver-full', nsKey };
  return undefined;
}

/** The key of a channel's blob, as both full savers write it. */
export const blobKey = (thread: string, nsKey: string, channel: string, version: string) =>
  `checkpoint_blob:${thread}:${nsKey}:${channel}:${version}`;
