'use strict';
/**
 * s3rver, the S3-compatible server of the tests, benchmarks and soak — made to acknowledge a write only
 * once its bytes are on disk, as S3 does.
 *
 * s3rver 3.7's FilesystemStore resolves `putObject` and `putPart` when the hashing Transform finishes,
 * not when the file it pipes into is written: a GET right after the PUT's 200 can read a shorter file
 * (reproduced in test/integration/services.test.ts; under CI's load, retention's read-back found an
 * object short and counted a verification failure). Both are replaced here by a write that resolves
 * when the file is closed. Plain CommonJS: required in-process (local/services.ts) and run as a child
 * process (`node local/s3rver.cjs DIR BUCKETS_JSON [PORT]` prints `LISTENING {"port":N}`).
 */
const { createHash } = require('node:crypto');
const { createWriteStream } = require('node:fs');
const { mkdir, writeFile } = require('node:fs/promises');
const { dirname, join } = require('node:path');
const { Readable, Transform } = require('node:stream');
const { pipeline } = require('node:stream/promises');

const S3rver = require('s3rver');
const FilesystemStore = require('s3rver/lib/stores/filesystem');

/** Writes `content` (a Buffer or a stream) to `path`; resolves once the file is closed, with its size and md5. */
async function writeClosed(path, content) {
  await mkdir(dirname(path), { recursive: true });
  const md5 = createHash('md5');
  let size = 0;
  await pipeline(
    Buffer.isBuffer(content) ? Readable.from([content]) : content,
    new Transform({
      transform(chunk, _encoding, callback) {
        md5.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    }),
    createWriteStream(path),
  );
  return { size, md5: md5.digest('hex') };
}

FilesystemStore.prototype.putObject = async function putObject(object) {
  const written = await writeClosed(this.getResourcePath(object.bucket, object.key, 'object'), object.content);
  await this.putMetadata(object.bucket, object.key, object.metadata, written.md5);
  return written;
};

FilesystemStore.prototype.putPart = async function putPart(bucket, uploadId, partNumber, content) {
  const partPath = join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId, String(partNumber));
  const written = await writeClosed(partPath, content);
  await writeFile(`${partPath}.md5`, written.md5);
  return written;
};

/** Starts s3rver on 127.0.0.1 (port 0: any free one) serving `directory` with `buckets`; resolves to the server and its port. */
async function startS3rver({ directory, buckets, port = 0 }) {
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const address = await server.run();
  return { server, port: address.port };
}

module.exports = { startS3rver };

if (require.main === module) {
  const [directory, buckets, port] = process.argv.slice(2);
  startS3rver({ directory, buckets: JSON.parse(buckets ?? '[]'), port: Number(port ?? 0) }).then(
    ({ port: p }) => process.stdout.write(`LISTENING ${JSON.stringify({ port: p })}\n`),
    (err) => {
      process.stderr.write(`s3rver did not start: ${err.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
