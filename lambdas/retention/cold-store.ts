/**
 * The cold-storage port: upload a stream (multipart, bounded memory), look an object up, read it
 * by byte ranges. S3 in Lambda; any S3-compatible endpoint locally (s3rver in tests).
 */

import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandOutput,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { RangeReader } from './parquet';

/**
 * The condition of a write, checked by S3 (conditional writes): `absent` — only if no object is at
 * the key (`If-None-Match: *`); `{ etag }` — only if the object there is still the one inspected
 * (`If-Match`). No write replaces an object blindly.
 */
export type WriteCondition = 'absent' | { readonly etag: string };

/** S3 refused a conditional write (412 / 409): another writer got there first; nothing was replaced. */
export class ObjectConflict extends Error {
  override readonly name = 'ObjectConflict';
}

export interface ObjectHead {
  readonly size: number;
  readonly etag: string;
}

export interface ColdStore {
  readonly bucket: string;
  /** Uploads the stream to `key` if `condition` holds (else ObjectConflict); resolves when S3 has all of it. */
  upload(key: string, body: Readable, condition: WriteCondition): Promise<void>;
  /** The object's size and ETag, or undefined if there is none. */
  head(key: string): Promise<ObjectHead | undefined>;
  reader(key: string, size: number): RangeReader;
  /** Every object key under `prefix`, a page (≤ 1,000 keys) at a time. */
  list(prefix: string): AsyncIterable<readonly string[]>;
  /** Removes the object and every version of it (the bucket is versioned); returns the versions removed. */
  removeAllVersions(key: string): Promise<number>;
}

/** Multipart parts of 8 MiB, two in flight: ~16 MiB of buffers per upload whatever its size. */
export const PART_BYTES = 8 * 1024 * 1024;

export class S3ColdStore implements ColdStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async upload(key: string, body: Readable, condition: WriteCondition): Promise<void> {
    const upload = new Upload({
      client: this.s3,
      // lib-storage passes these to PutObject (one part) and to CompleteMultipartUpload (several).
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: 'application/vnd.apache.parquet',
        ...(condition === 'absent' ? { IfNoneMatch: '*' } : { IfMatch: condition.etag }),
      },
      partSize: PART_BYTES,
      queueSize: 2,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode;
      if (e.name === 'PreconditionFailed' || e.name === 'ConditionalRequestConflict' || status === 412 || status === 409)
        throw new ObjectConflict(
          `s3://${this.bucket}/${key}: ${condition === 'absent' ? 'an object appeared there' : 'the object there changed'} (another writer): not replaced`,
        );
      throw err;
    }
  }

  async head(key: string): Promise<ObjectHead | undefined> {
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: head.ContentLength ?? 0, etag: head.ETag ?? '' };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return undefined;
      throw err;
    }
  }

  async removeAllVersions(key: string): Promise<number> {
    let removed = 0;
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (;;) {
      let out: ListObjectVersionsCommandOutput;
      try {
        out = await this.s3.send(
          new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: key, KeyMarker: keyMarker, VersionIdMarker: versionMarker }),
        );
      } catch (err) {
        // An S3-compatible server without versions (s3rver): the object is its only copy.
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 501 || status === 405 || (err as Error).name === 'NotImplemented' || (err as Error).name === 'MethodNotAllowed') {
          await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
          return 1;
        }
        throw err;
      }
      for (const v of [...(out.Versions ?? []), ...(out.DeleteMarkers ?? [])]) {
        if (v.Key !== key) continue; // the prefix also matches longer keys
        await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key, VersionId: v.VersionId }));
        removed++;
      }
      if (!out.IsTruncated) break;
      keyMarker = out.NextKeyMarker;
      versionMarker = out.NextVersionIdMarker;
    }
    // A server that lists no versions (unversioned): delete the object itself.
    if (removed === 0 && (await this.head(key))) {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
      removed = 1;
    }
    return removed;
  }

  async *list(prefix: string): AsyncIterable<readonly string[]> {
    let token: string | undefined;
    do {
      const out = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      yield (out.Contents ?? []).map((o) => o.Key as string);
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  reader(key: string, size: number): RangeReader {
    return {
      byteLength: size,
      slice: async (start, end) => {
        const last = (end ?? size) - 1;
        if (last < start) return new ArrayBuffer(0);
        const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${last}` }));
        const bytes = await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
        // A short answer is not the object the caller knows (another object, or a store that answered
        // before it had the bytes): said, never decoded as if it were.
        if (bytes.byteLength !== last - start + 1)
          throw new Error(
            `s3://${this.bucket}/${key}: bytes ${start}-${last} of ${size} asked, ${bytes.byteLength} received (the object is not the one expected)`,
          );
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      },
    };
  }
}

/**
 * Where a store is, as plain data (an export thread opens its own client from it): the bucket, and
 * for a local S3-compatible server its endpoint, region and credentials (else the default chain).
 */
export interface ColdStoreConfig {
  readonly bucket: string;
  readonly endpoint?: string;
  readonly region?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export function openColdStore(c: ColdStoreConfig): S3ColdStore {
  const extra: S3ClientConfig = {
    ...(c.region ? { region: c.region } : {}),
    ...(c.credentials ? { credentials: { ...c.credentials } } : {}),
  };
  return new S3ColdStore(s3Client(c.endpoint, extra), c.bucket);
}

/** An S3 client for a local S3-compatible endpoint (path-style), or the default chain in AWS. */
export function s3Client(endpoint?: string, extra: S3ClientConfig = {}): S3Client {
  if (!endpoint) return new S3Client(extra);
  return new S3Client({ endpoint, forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1', ...extra });
}
