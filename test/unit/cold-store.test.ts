/**
 * What s3rver cannot show (it keeps no versions and ignores conditional writes), proven at the SDK
 * client boundary: every write is conditional, a refused write is an ObjectConflict, and retiring an
 * object removes every version of it and nothing else.
 */
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { ObjectConflict, PART_BYTES, S3ColdStore } from '../../lambdas/retention/cold-store';

const s3 = mockClient(S3Client);
const store = new S3ColdStore(new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }), 'cold');
const body = (bytes: number) => Readable.from([Buffer.alloc(bytes, 1)]);
const refused = (name: string, status: number) =>
  new S3ServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: status },
    message: 'At least one of the pre-conditions you specified did not hold',
  });

beforeEach(() => s3.reset());

describe('S3ColdStore: conditional writes', () => {
  it('a new object is written only if nothing is at its key (If-None-Match: *)', async () => {
    s3.on(PutObjectCommand).resolves({});
    await store.upload('messages/day=2025-01-03/a.parquet', body(10), 'absent');
    const [put] = s3.commandCalls(PutObjectCommand);
    expect(put?.args[0].input).toMatchObject({ Bucket: 'cold', Key: 'messages/day=2025-01-03/a.parquet', IfNoneMatch: '*' });
    expect(put?.args[0].input.IfMatch).toBeUndefined();
  });

  it('a leftover is replaced only if it is still the object inspected (If-Match: its ETag)', async () => {
    s3.on(PutObjectCommand).resolves({});
    await store.upload('messages/day=2025-01-03/a.parquet', body(10), { etag: '"abc"' });
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toMatchObject({ IfMatch: '"abc"' });
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.IfNoneMatch).toBeUndefined();
  });

  it('a multipart object carries the condition on CompleteMultipartUpload, where S3 checks it', async () => {
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'u1' });
    s3.on(UploadPartCommand).resolves({ ETag: '"p"' });
    s3.on(CompleteMultipartUploadCommand).resolves({});
    await store.upload('messages/day=2025-01-03/big.parquet', body(PART_BYTES + 1), 'absent');
    expect(s3.commandCalls(UploadPartCommand)).toHaveLength(2);
    expect(s3.commandCalls(CompleteMultipartUploadCommand)[0]?.args[0].input).toMatchObject({ UploadId: 'u1', IfNoneMatch: '*' });
  });

  it.each([
    ['PreconditionFailed', 412],
    ['ConditionalRequestConflict', 409],
  ])('S3 refusing the write (%s, %i) is an ObjectConflict: nothing replaced', async (name, status) => {
    s3.on(PutObjectCommand).rejects(refused(name, status));
    await expect(store.upload('messages/day=2025-01-03/a.parquet', body(10), 'absent')).rejects.toBeInstanceOf(ObjectConflict);
  });

  it('any other failure is passed on as it is', async () => {
    s3.on(PutObjectCommand).rejects(refused('AccessDenied', 403));
    await expect(store.upload('messages/day=2025-01-03/a.parquet', body(10), 'absent')).rejects.toThrow(/pre-conditions|AccessDenied/);
    await expect(store.upload('messages/day=2025-01-03/a.parquet', body(10), 'absent')).rejects.not.toBeInstanceOf(ObjectConflict);
  });
});

describe('S3ColdStore: retiring an object removes every version of it', () => {
  it('deletes each version and delete marker of the key by VersionId, over pages, and never a longer key sharing the prefix', async () => {
    const key = 'messages/day=2025-01-03/a.parquet';
    s3.on(ListObjectVersionsCommand)
      .resolvesOnce({
        Versions: [
          { Key: key, VersionId: 'v3' },
          { Key: key, VersionId: 'v2' },
          { Key: `${key}.bak`, VersionId: 'x1' },
        ],
        IsTruncated: true,
        NextKeyMarker: key,
        NextVersionIdMarker: 'v2',
      })
      .resolvesOnce({ Versions: [{ Key: key, VersionId: 'v1' }], DeleteMarkers: [{ Key: key, VersionId: 'd1' }], IsTruncated: false });
    s3.on(DeleteObjectCommand).resolves({});
    expect(await store.removeAllVersions(key)).toBe(4);
    expect(s3.commandCalls(DeleteObjectCommand).map((c) => [c.args[0].input.Key, c.args[0].input.VersionId])).toEqual([
      [key, 'v3'],
      [key, 'v2'],
      [key, 'v1'],
      [key, 'd1'],
    ]);
    expect(s3.commandCalls(ListObjectVersionsCommand)[1]?.args[0].input).toMatchObject({ KeyMarker: key, VersionIdMarker: 'v2' });
  });
});

describe('S3ColdStore: reading an object back', () => {
  const answer = (bytes: number) => ({ Body: { transformToByteArray: async () => new Uint8Array(bytes) } }) as never;

  it('asks for the exact byte range and returns it', async () => {
    s3.on(GetObjectCommand).resolves(answer(8));
    const got = await store.reader('messages/day=2025-01-03/a.parquet', 100).slice(92, 100);
    expect(got.byteLength).toBe(8);
    expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toMatchObject({
      Key: 'messages/day=2025-01-03/a.parquet',
      Range: 'bytes=92-99',
    });
  });

  it('a shorter answer than the range asked is an error naming the object, never bytes decoded as if they were it', async () => {
    s3.on(GetObjectCommand).resolves(answer(3));
    await expect(store.reader('messages/day=2025-01-03/a.parquet', 100).slice(92, 100)).rejects.toThrow(
      's3://cold/messages/day=2025-01-03/a.parquet: bytes 92-99 of 100 asked, 3 received (the object is not the one expected)',
    );
  });
});
