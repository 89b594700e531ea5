/**
 * The shallow savers keep one document per thread and namespace, rewritten every step:
 * Python `checkpoint:{thread}:{ns}` (root `__empty__`), JS `checkpoint:{thread}:{ns}:shallow`
 * (root raw, so `checkpoint:{thread}::shallow`). Channel values are inline.
 */
import { nsKeyForms } from './saver-doc';

export function explainShallowKey(
  key: string,
  prefix: string,
  thread: string,
  ns: string,
): { layout: 'saver-shallow'; nsKey: string } | undefined {
  const head = `${prefix}${thread}:`;
  if (!key.startsWith(head)) return undefined;
  const after = key.slice(head.length);
  for (const nsKey of nsKeyForms(ns)) {
    if (after === `${nsKey}:shallow` || after === nsKey) return { layout: 'saver-shallow', nsKey };
  }
  return undefined;
}
