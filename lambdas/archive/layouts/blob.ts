/**
 * Channel blobs, `checkpoint_blob:{thread}:{ns}:{channel}:{version}`:
 * - JS saver: `{thread_id, checkpoint_ns, checkpoint_id, channel, version, type: "json", value: <the value>}`;
 * - Python ≤ 0.0.8: `{thread_id, checkpoint_ns, channel, version, type, blob}` with `blob` the
 *   serialized value in base64 — `type` "json" is readable here, "msgpack" is not (no decoder:
 *   such a blob is undecodable, its thread stays in Redis and the blob is quarantined), "empty"
 *   means the channel holds nothing;
 * - older tools: a bare JSON value, or `{type: "json", blob: <JSON text>}`.
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
  const trimmed = blob.trimStart();
  if (trimmed.startsWith('[') || trimmed.startsWith('{') || trimmed.startsWith('"'))
    return { empty: false, value: parseJson(blob, 'Channel blob payload') };
  if (!/^[A-Za-z0-9+/=\s]*$/.test(blob)) throw new CheckpointFormatError('Channel blob payload is neither JSON nor base64');
  return { empty: false, value: parseJson(Buffer.from(blob, 'base64').toString('utf8'), 'Channel blob payload (base64)') };
}
