/**
 * DuckDB (`@duckdb/node-api`, a devDependency) reading cold-storage objects: an engine that is not
 * ours, used by the tests and the demo to show the Parquet files are what they claim to be.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';

/** Downloads every object under `prefix` into `dir`; returns the local paths. */
export async function downloadPrefix(s3: S3Client, bucket: string, prefix: string, dir: string): Promise<string[]> {
  const files: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      if (!o.Key) continue;
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }));
      const path = join(dir, o.Key);
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
      files.push(path);
    }
    token = page.NextContinuationToken;
  } while (token);
  return files;
}

/** Runs one query in an in-memory DuckDB; values come back as JSON (big numbers as strings). */
export async function duckQuery(sql: string): Promise<Record<string, unknown>[]> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    const reader = await conn.runAndReadAll(sql);
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
