/**
 * Parquet through `hyparquet-writer` / `hyparquet` (pure JS: SNAPPY works on Node 20 here and on the
 * Lambda runtime; see ../../docs/decisions.md for its data-page-v2 caveat). Every column is a
 * nullable UTF-8 string holding PostgreSQL's own text form of the value: lossless (microseconds,
 * bigints past 2^53, jsonb numbers of any length), generic (a new column needs no code).
 *
 * Both packages are ES modules only: loaded with `import()` once (esbuild bundles them; Jest
 * compiles them, see jest.config.js).
 */
import { createHash, type Hash } from 'node:crypto';
import type { Writable } from 'node:stream';

type WriterModule = typeof import('hyparquet-writer', { with: { 'resolution-mode': 'import' }});
type ReaderModule = typeof import('hyparquet', { with: { 'resolution-mode': 'import' }});
let writerModule: Promise<WriterModule> | undefined;
let readerModule: Promise<ReaderModule> | undefined;
export const loadWriter = (): Promise<WriterModule> => {
  writerModule ??= import('hyparquet-writer');
  return writerModule;
};
export const loadReader = (): Promise<ReaderModule> => {
  readerModule ??= import('hyparquet');
  return readerModule;
};

export type TextRow = readonly (string | null)[];

/** The canonical form of a row for the object's SHA-256: its values as a JSON array, one line. */
export function canonicalLine(row: TextRow): string {
  return `${JSON.stringify(row)}\n`;
}

/** Canonical text hashed per update (a page of large rows must not become one huge string). */
const HASH_CHUNK_CHARS = 1 << 20;

/** SHA-256 over canonical rows, in order. */
export class RowDigest {
  private readonly hash: Hash = createHash('sha256');
  rows = 0;
  add(row: TextRow): void {
    this.addRange([row]);
  }
  /** Adds rows[from, to): the same digest as `add` on each, in one hash update (one call, not one per row). */
  addRange(rows: readonly TextRow[], from = 0, to = rows.length): void {
    let text = '';
    for (let i = from; i < to; i++) {
      text += canonicalLine(rows[i] as TextRow);
      if (text.length >= HASH_CHUNK_CHARS) {
        this.hash.update(text);
        text = '';
      }
    }
    if (text.length > 0) this.hash.update(text);
    this.rows += to - from;
  }
  hex(): string {
    return this.hash.digest('hex');
  }
}

/** What a retention object says about itself (Parquet key-value metadata, written last). */
export interface ObjectFooter {
  readonly table: string;
  readonly day: string;
  readonly rows: number;
  readonly sha256: string;
  readonly rowsMd5: string;
  readonly keyMin: readonly string[];
  readonly keyMax: readonly string[];
  readonly columns: readonly { name: string; type: string }[];
  readonly schemaVersion: number;
}

const FOOTER_KEY = 'dlc.retention';

/**
 * How each column is written. Only the columns readers prune by (a policy's time and key columns:
 * Athena and DuckDB skip row groups by their min/max) carry statistics, and being near-unique they
 * are PLAIN-encoded; the others get no statistics (min/max of a content or jsonb column helps no
 * query and cost the export ~15 % of its CPU) and a dictionary when the writer finds one pays.
 */
export interface ColumnLayout {
  /** Columns with min/max statistics, PLAIN encoding. @default none */
  readonly indexed?: ReadonlySet<string>;
}

/** Rows hashed and buffered between two turns of the event loop. */
const SLICE_ROWS = 1_000;
const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Streams rows into a Parquet file: row groups are encoded as they fill and their bytes pushed to
 * `sink` (with its backpressure), so memory is about one row group whatever the object's size.
 */
export class ParquetStreamWriter {
  private columns: (string | null)[][];
  private pending = 0;
  readonly digest = new RowDigest();
  bytes = 0;

  private constructor(
    private readonly writer: InstanceType<WriterModule['ParquetWriter']>,
    private readonly names: readonly string[],
    private readonly rowGroupRows: number,
    private readonly layout: ColumnLayout,
  ) {
    this.columns = names.map(() => []);
  }

  static async open(
    sink: Writable,
    names: readonly string[],
    rowGroupRows: number,
    layout: ColumnLayout = {},
  ): Promise<ParquetStreamWriter> {
    const { ByteWriter, ParquetWriter } = await loadWriter();
    const bytes = new ByteWriter();
    let self: ParquetStreamWriter | undefined;
    // Each row group's bytes leave as soon as it is encoded; the buffer is reused.
    const flush = (): Promise<void> | undefined => {
      const chunk = Buffer.from(new Uint8Array(bytes.buffer, 0, bytes.index));
      bytes.index = 0;
      if (self) self.bytes += chunk.length;
      if (chunk.length === 0) return undefined;
      if (sink.write(chunk)) return undefined;
      return new Promise((resolve) => sink.once('drain', () => resolve()));
    };
    (bytes as unknown as { flush: () => Promise<void> | undefined }).flush = flush;
    (bytes as unknown as { finish: () => Promise<void> | undefined }).finish = flush;
    const schema = [
      { name: 'root', num_children: names.length },
      ...names.map((name) => ({
        name,
        type: 'BYTE_ARRAY' as const,
        converted_type: 'UTF8' as const,
        repetition_type: 'OPTIONAL' as const,
      })),
    ];
    const writer = new ParquetWriter({ writer: bytes, schema, codec: 'SNAPPY', statisticsTruncateLength: 64, createdBy: 'dlc-retention' });
    self = new ParquetStreamWriter(writer, names, rowGroupRows, layout);
    return self;
  }

  /** Adds a row; encodes and sends a row group when one is full. */
  add(row: TextRow): Promise<void> {
    return this.addRows([row]);
  }

  /** Adds rows in order (a page at a time: no await per row); each full row group is encoded and sent. */
  async addRows(rows: readonly TextRow[]): Promise<void> {
    const width = this.names.length;
    let i = 0;
    while (i < rows.length) {
      const end = Math.min(rows.length, i + SLICE_ROWS, i + this.rowGroupRows - this.pending);
      this.pending += end - i;
      this.digest.addRange(rows, i, end);
      for (; i < end; i++) {
        const row = rows[i] as TextRow;
        for (let c = 0; c < width; c++) (this.columns[c] as (string | null)[]).push(row[c] ?? null);
      }
      if (this.pending >= this.rowGroupRows) await this.flushGroup();
      // Let I/O run between slices (e.g. the next page arriving on the database socket).
      else if (i < rows.length) await yieldToIo();
    }
  }

  private async flushGroup(): Promise<void> {
    if (this.pending === 0) return;
    const indexed = this.layout.indexed;
    const columnData = this.names.map((name, i) =>
      indexed?.has(name)
        ? { name, data: this.columns[i] as (string | null)[], statistics: true, encoding: 'PLAIN' as const }
        : { name, data: this.columns[i] as (string | null)[], statistics: false },
    );
    const rows = this.pending;
    this.columns = this.names.map(() => []);
    this.pending = 0;
    await this.writer.write({ columnData, rowGroupSize: rows });
  }

  /** Writes the last row group and the footer (with `footer` as key-value metadata). */
  async finish(footer: Omit<ObjectFooter, 'rows' | 'sha256'>): Promise<ObjectFooter> {
    await this.flushGroup();
    const full: ObjectFooter = { ...footer, rows: this.digest.rows, sha256: this.digest.hex() };
    (this.writer as unknown as { kvMetadata: { key: string; value: string }[] }).kvMetadata = [
      { key: FOOTER_KEY, value: JSON.stringify(full) },
    ];
    await this.writer.finish();
    return full;
  }
}

/** A Parquet file read by ranges (S3 GET Range, or a buffer). */
export interface RangeReader {
  readonly byteLength: number;
  slice(start: number, end?: number): Promise<ArrayBuffer>;
}

export interface ReadBack {
  /** The footer the writer left, if any (a foreign or truncated file has none). */
  readonly footer?: ObjectFooter;
  readonly rows: number;
  readonly sha256: string;
  readonly columns: readonly string[];
}

/**
 * Reads a whole object back, one row group at a time (memory: one row group), recomputing the
 * row count and the SHA-256 over canonical rows. `onRows` sees every row group's rows in order.
 */
export async function readBack(
  file: RangeReader,
  onRows?: (rows: TextRow[], columns: readonly string[]) => Promise<void>,
): Promise<ReadBack> {
  const { parquetMetadataAsync, parquetRead } = await loadReader();
  const metadata = await parquetMetadataAsync(file);
  const columns = metadata.schema.slice(1).map((s) => s.name);
  const raw = metadata.key_value_metadata?.find((kv) => kv.key === FOOTER_KEY)?.value;
  const footer = raw ? (JSON.parse(raw) as ObjectFooter) : undefined;
  const digest = new RowDigest();
  let start = 0;
  for (const group of metadata.row_groups) {
    const end = start + Number(group.num_rows);
    let rows: TextRow[] = [];
    await parquetRead({
      file,
      metadata,
      rowStart: start,
      rowEnd: end,
      onComplete: (r: unknown[][]) => {
        rows = r as TextRow[];
      },
    });
    for (const row of rows)
      for (const v of row) if (v !== null && typeof v !== 'string') throw new Error(`not a retention object: a ${typeof v} value`);
    digest.addRange(rows);
    if (onRows) await onRows(rows, columns);
    start = end;
  }
  return { footer, rows: digest.rows, sha256: digest.hex(), columns };
}

/** A buffer as a RangeReader (tests, DuckDB-free checks). */
export function bufferReader(buf: Uint8Array): RangeReader {
  return {
    byteLength: buf.byteLength,
    slice: async (start, end) => {
      const s = buf.subarray(start, end ?? buf.byteLength);
      return s.buffer.slice(s.byteOffset, s.byteOffset + s.byteLength) as ArrayBuffer;
    },
  };
}
