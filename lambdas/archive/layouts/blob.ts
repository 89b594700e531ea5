/**
 * Channel blobs, `checkpoint_blob:{thread}:{ns}:{channel}:{version}`:
 * - JS saver: `{thread_id, checkpoint_ns, checkpoint_id, channel, version, type: "json", value: <the value>}`;
 * - Python ≤ 0.0.8 (base.py `_dump_blobs`, jsonplus_redis.py `dumps_typed` at v0.0.8):
 *   `{thread_id, checkpoint_ns, channel, version, type, blob}` with `type` "json" and `blob` the value
 *   as JSON TEXT (any JSON value: `"[…]"`, `"12345"`, `"null"`), "base64" and the base64 of a bytes
 *   value (not a channel this archive reads: refused), or "empty" (`blob: null`, the channel holds
 *   nothing). Python ≥ 0.1 writes no blobs (channel values inline). No release writes "msgpack" here;
 *   any type other than "json" and "empty" is undecodable: the thread stays in Redis and the blob is
 *   quarantined;
 * - older tools: a bare JSON value, or `{type: "json", blob: <base64 of JSON text>}`.
 */
import { CheckpointFormatError, isObject, parseJson } from '../values';

export type BlobValue = { readonly empty: true } | { readonly empty: false; readonly value: unknown };

export function decodeBlob(raw: string): BlobValue {
  const doc = parseJson(raw, 'Channel blob');
  if (!isObject(doc) || !('type' in doc || 'value' in doc || 'blob' in doc)) return { empty: false, value: doc };
  if (doc.type === 'empty') return { empty: true };
  if ('value' in doc) return { empty: false, value: doc.value };
  if (doc.type !== undefined && doc.type !== 'json')
    throw new CheckpointFormatError(
      `Channel blob of type ${typeof doc.type === 'string' ? doc.type.slice(0, 32) : typeof doc.type} cannot be decoded here`,
    );
  const blob = doc.blob;
  if (typeof blob !== 'string') return { empty: false, value: blob };
  const text = jsonText(blob);
  if (text.ok) return { empty: false, value: text.value };
  if (!/^[A-Za-z0-9+/=\s]*$/.test(blob)) throw new CheckpointFormatError('Channel blob payload is neither JSON nor base64');
  return { empty: false, value: parseJson(Buffer.from(blob, 'base64').toString('utf8'), 'Channel blob payload (base64)') };
}

/** JSON text first (what the Python saver writes): the base64 of JSON text is not itself JSON text that parses. */
function jsonText(s: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(s) };
  } catch {
    return { ok: false };
  }
}
