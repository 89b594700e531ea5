/**
 * Judge stage: the age of a unit and whether it can be archived. A unit's age is its newest
 * document's: the checkpoint's own time, else (seed) its numeric namespace, else 24 h − PTTL; a
 * document that could not be read or parsed counts as new. Old units with problems are `blocked`:
 * kept in Redis, with every key quarantined (PostgreSQL holds a copy before the TTL takes it).
 */
import type { AssembledUnit } from './assemble';
import { type AssembledMessages, assembleMessages } from './thread';

const HOUR = 3_600_000;

export type Judgement =
  | { readonly kind: 'gone' }
  | { readonly kind: 'changed' }
  | { readonly kind: 'fresh' }
  | { readonly kind: 'no-age' }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'blocked'; readonly reason: string }
  | { readonly kind: 'archive'; readonly messages: AssembledMessages; readonly newestMs: number };

export interface JudgeSettings {
  readonly cutoffHours: number;
  readonly checkpointTtlHours: number;
}

/** The newest document's time (ms): undefined if some document has none (no time, no TTL); an unreadable one is `now`. */
export function newestTime(u: AssembledUnit, now: number, ttlHours: number): number | undefined {
  let newest = Number.NEGATIVE_INFINITY;
  const bad = new Set(u.problems.map((p) => p.entry.key));
  for (const d of u.docs) {
    let t: number | undefined;
    if (bad.has(d.entry.key)) t = now;
    else if (d.time) t = d.time.getTime();
    else if (d.entry.pttlMs >= 0) t = now - (ttlHours * HOUR - d.entry.pttlMs);
    if (t === undefined) return undefined;
    newest = Math.max(newest, t);
  }
  return newest;
}

export function judge(u: AssembledUnit, now: Date, s: JudgeSettings, blockedBy: number): Judgement {
  if (u.docs.length === 0) return { kind: u.changed && u.layout === 'seed' ? 'gone' : 'changed' };
  if (u.changed) return { kind: 'changed' };
  if (u.layout === 'seed' && u.problems.length > 0) return { kind: 'malformed' };
  const newest = blockedBy > 0 ? now.getTime() : newestTime(u, now.getTime(), s.checkpointTtlHours);
  if (newest === undefined) return { kind: 'no-age' };
  if (newest > now.getTime() - s.cutoffHours * HOUR) return { kind: 'fresh' };
  if (u.problems.length > 0 || u.missingBlobs.length > 0)
    return {
      kind: 'blocked',
      reason: [
        u.problems.length > 0 ? `${u.problems.length} key(s) not understood` : '',
        u.missingBlobs.length > 0 ? `${u.missingBlobs.length} declared message blob(s) absent` : '',
      ]
        .filter(Boolean)
        .join('; '),
    };
  return { kind: 'archive', messages: assembleMessages(u.snapshots, new Date(newest)), newestMs: newest };
}
