import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { bufferReader, loadReader, ParquetStreamWriter, RowDigest, readBack } from '../../lambdas/retention/parquet';
import { cutoffFor } from '../../lambdas/retention/policies';
import { selectPolicies } from '../../lambdas/retention/retention';
import { objectKey } from '../../lambdas/retention/table-run';
import { ConfigError, ENVIRONMENTS, RETENTION_POLICIES, validateEnvironment } from '../../lib/config';
import { parseDays } from '../../local/retention-run';

const messages = RETENTION_POLICIES.find((p) => p.table === 'messages');
if (!messages) throw new Error('no messages policy');

describe('retention policies', () => {
  it('counts days in the zone: 180 days before 10:00 CET is 10:00 CEST (08:00Z), not 09:00Z', () => {
    const now = new Date('2026-11-22T09:00:00.000Z');
    expect(cutoffFor(messages, 180, now, 'Europe/Madrid').value).toBe('2026-05-26T08:00:00.000Z');
    expect(cutoffFor(messages, 180, now, 'UTC').value).toBe('2026-05-26T09:00:00.000Z');
    const daily = { ...messages, timeKind: 'date' as const };
    expect(cutoffFor(daily, 365, now, 'Europe/Madrid').value).toBe('2025-11-22');
    const monthly = { ...messages, timeKind: 'month' as const };
    expect(cutoffFor(monthly, 1095, now, 'Europe/Madrid').value).toBe('2023-11');
  });

  it('object names are deterministic and partitioned by day', () => {
    const a = objectKey('messages', '2025-01-02', ['2025-01-02 10:00:00+00', '7'], 0);
    expect(a).toBe(objectKey('messages', '2025-01-02', ['2025-01-02 10:00:00+00', '7'], 0));
    expect(a).toMatch(/^messages\/day=2025-01-02\/[0-9a-f]{16}\.parquet$/);
    expect(objectKey('messages', '2025-01-02', ['2025-01-02 10:00:00+00', '7'], 1)).not.toBe(a);
    expect(objectKey('messages', '2025-01-02', ['2025-01-02 10:00:00+00', '8'], 0)).not.toBe(a);
  });

  it('selects enabled policies, applies --days, refuses unknown tables', () => {
    const off = RETENTION_POLICIES.map((p) => (p.table === 'checkpoint_quarantine' ? { ...p, enabled: false } : p));
    expect(selectPolicies(off, {}).map((p) => p.table)).not.toContain('checkpoint_quarantine');
    expect(selectPolicies(off, { tables: ['messages'], days: { messages: 30 } })).toEqual([{ ...messages, days: 30 }]);
    expect(() => selectPolicies(off, { tables: ['audits'] })).toThrow('No retention policy for table "audits"');
    expect(parseDays('messages=30,analytics_events=7')).toEqual({ messages: 30, analytics_events: 7 });
    expect(() => parseDays('messages=0')).toThrow('--days');
  });

  it('the config refuses a bad policy, naming it', () => {
    const bad = {
      ...ENVIRONMENTS.dev,
      retention: {
        ...ENVIRONMENTS.dev.retention,
        policies: [...RETENTION_POLICIES, { ...messages, days: 0 }, { ...messages, table: 'x; drop' }],
      },
    };
    expect(() => validateEnvironment(bad)).toThrow(ConfigError);
    expect(() => validateEnvironment(bad)).toThrow(
      /messages" has two policies[\s\S]*retention.messages.days must be a positive integer[\s\S]*"x; drop"/,
    );
  });
});

describe('parquet objects', () => {
  it('round-trips text, NULL and empty exactly, with the row count and SHA-256 in the footer', async () => {
    const rows = [
      ['1', null, ''],
      ['-9223372036854775808', '{"n": 12345678901234567890}', '🙂'],
    ];
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    const w = await ParquetStreamWriter.open(sink, ['a', 'b', 'c'], 1);
    for (const r of rows) await w.add(r);
    const footer = await w.finish({
      table: 't',
      day: '2025-01-01',
      rowsMd5: 'x',
      keyMin: ['1'],
      keyMax: ['2'],
      columns: [],
      schemaVersion: 1,
    });
    const expected = new RowDigest();
    for (const r of rows) expected.add(r);
    expect(footer).toMatchObject({ rows: 2, sha256: expected.hex() });
    const seen: unknown[] = [];
    const back = await readBack(bufferReader(Buffer.concat(chunks)), async (r) => {
      seen.push(...r);
    });
    expect(back).toMatchObject({ rows: 2, sha256: footer.sha256, columns: ['a', 'b', 'c'] });
    expect(seen).toEqual(rows);
  });

  it('the SHA-256 is over the rows as JSON lines, whatever the batching (values past the 1 MiB hash chunk, emoji, NULL)', () => {
    const big = 'é🙂'.repeat(300_000); // 900,000 UTF-16 units: two of them cross a hash chunk
    const rows = [
      ['1', big, null],
      ['2', '', big],
      ['3', '"\\\n', '🙂'],
      ['4', null, null],
    ];
    const reference = createHash('sha256');
    for (const r of rows) reference.update(`${JSON.stringify(r)}\n`);
    const whole = new RowDigest();
    whole.addRange(rows);
    const split = new RowDigest();
    split.addRange(rows, 0, 1);
    split.add(rows[1] as string[]);
    split.addRange(rows, 2, 4);
    const expected = reference.digest('hex');
    expect([whole.rows, split.rows]).toEqual([4, 4]);
    expect([whole.hex(), split.hex()]).toEqual([expected, expected]);
  });

  it('only the indexed (time and key) columns carry min/max statistics', async () => {
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    const w = await ParquetStreamWriter.open(sink, ['id', 'created_at', 'content'], 2, { indexed: new Set(['id', 'created_at']) });
    await w.addRows([
      ['2', '2025-01-01 00:00:01+00', 'b'],
      ['1', '2025-01-01 00:00:00+00', 'a'],
      ['3', '2025-01-01 00:00:02+00', 'c'],
    ]);
    await w.finish({ table: 't', day: '2025-01-01', rowsMd5: 'x', keyMin: [], keyMax: [], columns: [], schemaVersion: 2 });
    const { parquetMetadata } = await loadReader();
    const buf = Buffer.concat(chunks);
    const meta = parquetMetadata(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
    const stats = meta.row_groups.map((g) => g.columns.map((c) => c.meta_data?.statistics?.min_value ?? null));
    expect(stats).toEqual([
      ['1', '2025-01-01 00:00:00+00', null],
      ['3', '2025-01-01 00:00:02+00', null],
    ]);
  });
});
