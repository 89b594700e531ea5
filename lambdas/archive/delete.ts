/**
 * Delete stage: gathers the facts the delete rule (delete-rule.ts) needs at delete time — every
 * key of the thread re-read and compared with the value read, a re-scan for documents that
 * appeared since discovery — asks the rule, and only then deletes, key by key with a Lua
 * compare-and-delete (one key per command: no cross-slot error in cluster mode), pointers first,
 * then documents newest first, then the rest. The first key found changed stops the thread.
 */
import type { AssembledUnit } from './assemble';
import { type DeleteFacts, type DeleteVerdict, deleteRule } from './delete-rule';
import type { CheckpointStore, RawEntry } from './redis-store';

export type PreDeleteFacts = Omit<DeleteFacts, 'changedKeys' | 'appearedDocuments'>;

export interface DeleteOutcome {
  readonly verdict: DeleteVerdict;
  readonly keys: number;
  /** A key changed between the verdict and its compare-and-delete. */
  readonly raced: boolean;
}

/** Documents under `prefix` not known at discovery, per thread of `threads` whose key they may be. */
export async function appearedSince(
  store: CheckpointStore,
  prefix: string,
  known: ReadonlySet<string>,
  threads: ReadonlySet<string>,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const keys of store.scan(`${prefix}*`)) {
    for (const key of keys) {
      if (known.has(key)) continue;
      const rest = key.slice(prefix.length);
      for (let i = rest.indexOf(':'); i >= 0; i = rest.indexOf(':', i + 1)) {
        const t = rest.slice(0, i);
        if (threads.has(t)) out.set(t, (out.get(t) ?? 0) + 1);
      }
    }
  }
  return out;
}

const order = (u: AssembledUnit) => {
  const docTime = new Map(u.docs.map((d) => [d.entry.key, d.time?.getTime() ?? 0]));
  const rank = (e: RawEntry) => (e.key.startsWith('checkpoint_latest:') ? 0 : docTime.has(e.key) ? 1 : 2);
  return [...u.reads].sort((a, b) => rank(a) - rank(b) || (docTime.get(b.key) ?? 0) - (docTime.get(a.key) ?? 0));
};

export async function deleteUnit(
  store: CheckpointStore,
  u: AssembledUnit,
  facts: PreDeleteFacts,
  appeared: number,
): Promise<DeleteOutcome> {
  let changedKeys = 0;
  if (u.reads.length > 1) {
    const now = await store.read(u.reads.map((e) => e.key));
    u.reads.forEach((e, i) => {
      const n = now[i];
      if (!n || n.kind !== e.kind || n.raw === null || e.raw === null || !n.raw.equals(e.raw)) changedKeys++;
    });
  }
  const verdict = deleteRule({ ...facts, changedKeys, appearedDocuments: appeared });
  if (!verdict.delete) return { verdict, keys: 0, raced: false };
  let keys = 0;
  for (const e of order(u)) {
    if (e.raw === null || (e.kind !== 'string' && e.kind !== 'json' && e.kind !== 'zset')) return { verdict, keys, raced: true };
    if (!(await store.compareAndDelete(e.key, e.raw, e.kind))) return { verdict, keys, raced: true };
    keys++;
  }
  return { verdict, keys, raced: false };
}
