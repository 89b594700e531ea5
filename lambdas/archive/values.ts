/** Small pure helpers shared by the archive's stages: JSON that never quotes its input, times, safe text. */
import { hash as oneShot } from 'node:crypto';

export class CheckpointFormatError extends Error {
  override readonly name = 'CheckpointFormatError';
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * JSON.parse whose error names what was parsed, its size and the position of the fault — never
 * a piece of the value (V8's messages quote it; conversation content belongs in the database only).
 */
export function parseJson(raw: string, what: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new CheckpointFormatError(
      `${what} is not valid JSON (${Buffer.byteLength(raw)} bytes, fault at character ${jsonFaultPosition(raw)})`,
    );
  }
}

/** Offset of the first character at which `s` stops being JSON (a small validator, used on the error path only). */
export function jsonFaultPosition(s: string): number {
  let i = 0;
  const ws = () => {
    while (i < s.length && ' \t\n\r'.includes(s[i] as string)) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const lit = (w: string) => {
    if (s.startsWith(w, i)) i += w.length;
    else fail();
  };
  const str = () => {
    i++;
    while (i < s.length && s[i] !== '"') {
      const c = s.charCodeAt(i);
      if (c < 0x20) fail();
      if (s[i] === '\\') {
        i++;
        if (s[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 1, i + 5))) fail();
          i += 5;
        } else if ('"\\/bfnrt'.includes(s[i] ?? 'x')) i++;
        else fail();
      } else i++;
    }
    if (i >= s.length) fail();
    i++;
  };
  const num = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(s.slice(i, i + 400));
    if (!m) fail();
    i += (m as RegExpExecArray)[0].length;
  };
  const value = (): void => {
    ws();
    const c = s[i];
    if (c === '{') {
      i++;
      ws();
      if (s[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (s[i] !== '"') fail();
        str();
        ws();
        if (s[i] !== ':') fail();
        i++;
        value();
        ws();
        if (s[i] === ',') i++;
        else if (s[i] === '}') {
          i++;
          return;
        } else fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (s[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (s[i] === ',') i++;
        else if (s[i] === ']') {
          i++;
          return;
        } else fail();
      }
    } else if (c === '"') str();
    else if (c === 't') lit('true');
    else if (c === 'f') lit('false');
    else if (c === 'n') lit('null');
    else num();
  };
  try {
    value();
    ws();
    return i < s.length ? i : s.length;
  } catch (pos) {
    return typeof pos === 'number' ? Math.min(pos, s.length) : 0;
  }
}

/** A time from epoch seconds, epoch milliseconds or an ISO string. */
export function toDate(v: unknown): Date | undefined {
  let d: Date | undefined;
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) d = new Date(v < 1e11 ? v * 1000 : v);
  else if (typeof v === 'string' && v.trim() !== '') {
    d = /^\d+(\.\d+)?$/.test(v.trim()) ? toDate(Number(v)) : new Date(v);
  }
  return d && !Number.isNaN(d.getTime()) && d.getUTCFullYear() > 1990 && d.getUTCFullYear() < 3000 ? d : undefined;
}

/** SHA-256 (one-shot: no Hash object per call; the same digest as createHash). */
export const hash = (...parts: string[]) => oneShot('sha256', parts.join('\u0000')).slice(0, 32);
export const sha256 = (b: Buffer | string) => oneShot('sha256', b);

/** NUL (PostgreSQL text cannot hold it) and lone surrogates (not UTF-8 at all). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what this looks for
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A cheap first look: any NUL or any surrogate at all (most text has neither; emoji are pairs). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what this looks for
const SUSPECT = /[\u0000\uD800-\uDFFF]/;

export const hasUnstorable = (s: string) => {
  if (!SUSPECT.test(s)) return false;
  UNSTORABLE.lastIndex = 0;
  return UNSTORABLE.test(s);
};

/** Whether any string (or key) anywhere in `v` is unstorable; allocates nothing. */
function anyUnstorable(v: unknown): boolean {
  if (typeof v === 'string') return hasUnstorable(v);
  if (Array.isArray(v)) return v.some(anyUnstorable);
  if (isObject(v)) {
    for (const k of Object.keys(v)) if (hasUnstorable(k) || anyUnstorable(v[k])) return true;
  }
  return false;
}

/** `s` with every unstorable character replaced by U+FFFD. */
export const storable = (s: string) => s.replace(UNSTORABLE, '\uFFFD');

/** A value whose strings are all storable; `changed` says whether anything was replaced. */
export function storableDeep(v: unknown): { value: unknown; changed: boolean } {
  // The common case (nothing to replace): a shallow copy of an object, no walk that allocates.
  if (!anyUnstorable(v)) return { value: isObject(v) ? { ...v } : v, changed: false };
  let changed = false;
  const walk = (x: unknown): unknown => {
    if (typeof x === 'string') {
      if (!hasUnstorable(x)) return x;
      changed = true;
      return storable(x);
    }
    if (Array.isArray(x)) return x.map(walk);
    if (isObject(x)) {
      const out: Record<string, unknown> = {};
      for (const [k, val] of Object.entries(x)) {
        const bad = hasUnstorable(k);
        if (bad) changed = true;
        out[bad ? storable(k) : k] = walk(val);
      }
      return out;
    }
    return x;
  };
  const value = walk(v);
  return { value, changed };
}

/** Text for logs and the quarantine `error` column: identifiers only, made storable and bounded. */
export const safeLabel = (s: string, max = 1_000) => storable(s.length > max ? `${s.slice(0, max)}…(${s.length} chars)` : s);

/** A description of a value that never shows it: its type and size. */
export const describe = (v: unknown) =>
  typeof v === 'string'
    ? `a string of ${v.length} chars`
    : Array.isArray(v)
      ? `an array of ${v.length}`
      : v === null
        ? 'null'
        : typeof v === 'object'
          ? 'an object'
          : `a ${typeof v}`;
