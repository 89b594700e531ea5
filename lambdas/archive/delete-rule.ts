/**
 * THE delete rule (DESIGN.md, "The delete rule"): the only place that decides whether a thread's
 * keys may leave Redis. Pure; the delete stage gathers the facts and obeys the verdict, and then
 * still deletes key by key with compare-and-delete.
 */
export interface DeleteFacts {
  /** (a) Documents of the thread known to this run (discovery), and how many of them were read and parsed. */
  readonly documentsFound: number;
  readonly documentsParsed: number;
  /** (a) Keys under the saver prefix that could be this thread's but could not be read or parsed. */
  readonly blockedBy: number;
  /** (a) Keys of the thread that could not be read or understood (blobs, keys of an unexpected type). */
  readonly problems: number;
  /** (b) The newest document's time (ms); undefined when any document has no age (an unreadable one counts as new). */
  readonly newestMs: number | undefined;
  readonly cutoffMs: number;
  /** (c) Declared message blobs that are absent (not counting a superseded one: assemble.ts). */
  readonly missingBlobs: number;
  /** (c) Every message assembled from its checkpoints is in a committed transaction. */
  readonly committed: boolean;
  /**
   * (c) Checkpoints kept for what the rows lack — invalid messages, a superseded absent messages
   * blob — have a committed quarantine copy (true when none).
   */
  readonly copiesKept: boolean;
  /** (d) Keys whose value now differs from the value read, or that are gone. */
  readonly changedKeys: number;
  /** (d) Documents that appeared since discovery (a re-scan). */
  readonly appearedDocuments: number;
}

export type DeleteVerdict =
  | { readonly delete: true }
  | { readonly delete: false; readonly rule: 'a' | 'b' | 'c' | 'd'; readonly reason: string };

export function deleteRule(f: DeleteFacts): DeleteVerdict {
  if (f.documentsParsed < f.documentsFound || f.documentsFound === 0)
    return {
      delete: false,
      rule: 'a',
      reason: `${f.documentsFound - f.documentsParsed} of ${f.documentsFound} documents not read and parsed`,
    };
  if (f.blockedBy > 0) return { delete: false, rule: 'a', reason: `${f.blockedBy} unreadable key(s) may belong to the thread` };
  if (f.problems > 0) return { delete: false, rule: 'a', reason: `${f.problems} key(s) of the thread not understood` };
  if (f.newestMs === undefined) return { delete: false, rule: 'b', reason: 'a document has no age' };
  if (f.newestMs > f.cutoffMs) return { delete: false, rule: 'b', reason: 'the newest document is newer than the cutoff' };
  if (f.missingBlobs > 0) return { delete: false, rule: 'c', reason: `${f.missingBlobs} declared message blob(s) absent` };
  if (!f.committed) return { delete: false, rule: 'c', reason: 'its messages are not committed' };
  if (!f.copiesKept)
    return { delete: false, rule: 'c', reason: 'a checkpoint with invalid messages or an absent blob has no quarantine copy' };
  if (f.changedKeys > 0) return { delete: false, rule: 'd', reason: `${f.changedKeys} key(s) changed since read` };
  if (f.appearedDocuments > 0) return { delete: false, rule: 'd', reason: `${f.appearedDocuments} document(s) appeared since discovery` };
  return { delete: true };
}
