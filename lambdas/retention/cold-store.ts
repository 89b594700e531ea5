/**
 * The cold-storage port: upload a stream (multipart, bounded memory), look an object up, read it
 * by byte ranges. S3 in Lambda; any S3-compatible endpoint locally (s3rver in tests).
 */

import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { RangeReader } from './parquet';

export interface ColdStore {
  readonly bucket: string;
  /** Uploads the stream to `key` (replacing any object there); resolves when S3 has all of it. */
  upload(key: string, body: Readable): Promise<void>;
  /** The object's size, or undefined if there is none. */
  size(key: string): Promise<number | undefined>;
  reader(key: string, size: number): RangeReader;
  /** Every object key under `prefix`, a page (≤ 1,000 keys) at a time. */
  list(prefix: string): AsyncIterable<readonly string[]>;
}

/** Multipart parts of 8 MiB, two in flight: ~16 MiB of buffers per upload whatever its size. */
export const PART_BYTES = 8 * 1024 * 1024;

export class S3ColdStore implements ColdStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async upload(key: string, body: Readable): Promise<void> {
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/vnd.apache.parquet' },
      partSize: PART_BYTES,
      queueSize: 2,
      leavePartsOnError: false,
    });
    await upload.done();
  }

  async size(key: string): Promise<number | undefined> {
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return head.ContentLength ?? 0;
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return undefined;
      throw err;
    }
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
