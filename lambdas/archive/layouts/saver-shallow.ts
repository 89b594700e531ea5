/**
 * The shallow savers keep one document per thread and namespace, rewritten every step, keyed by
 * the RAW namespace (the document says `__empty__` for the root): Python `checkpoint:{thread}:{ns}`
 * (so `checkpoint:{thread}:` for the root; shallow.py `_make_shallow_redis_checkpoint_key`, v0.0.8
 * through 0.5.2), JS `checkpoint:{thread}:{ns}:shallow` (`checkpoint:{thread}::shallow`). Channel
 * values are inline (Python ≤ 0.0.8 also writes blobs, not needed to read them).
 */
export function explainShallowKey(
  key: string,
  prefix: string,
  thread: string,
  ns: string,
): { layout: 'saver-shallow'; nsKey: string } | undefined {
  const head = `${prefix}${thread}:`;
  if (!key.startsWith(head)) return undefined;
  const after = key.slice(head.length);
  if (after === `${ns}:shallow` || after === ns) return { layout: 'saver-shallow', nsKey: ns };
  return undefined;
}
