/**
 * Progress of `retention` and `restore` (issue 22, item 9): on a terminal, one line on stderr
 * rewritten with `\r`; when stderr is piped or redirected, nothing at all.
 */
import type { ColdStore } from '../../lambdas/retention/cold-store';
import { progressBar, restoreProgress } from '../../local/retention-run';

/** What was written, the erase-to-end-of-line sequence (ESC [K) shown as ⌫. */
function stream(isTTY: boolean) {
  const written: string[] = [];
  const write = (s: string) => written.push(s.replaceAll('\x1b[K', '⌫')) > 0;
  return { written, stream: { isTTY, write } as unknown as NodeJS.WriteStream };
}

const store: ColdStore = {
  bucket: 'cold',
  upload: async () => undefined,
  head: async (key) => ({ size: key.length * 1024 * 1024, etag: '"e"' }) as Awaited<ReturnType<ColdStore['head']>>,
  reader: () => ({}) as ReturnType<ColdStore['reader']>,
  list: async function* () {},
  removeAllVersions: async () => 0,
};

describe('progress on a terminal only', () => {
  it('retention: a line from the start, a bar per table after each object, rewritten with \\r; a newline between tables and at the end', () => {
    const t = stream(true);
    const bar = progressBar(t.stream);
    bar.start(['messages', 'conversations']);
    bar.update({ table: 'messages', rowsDone: 5, rowsTotal: 10 });
    bar.update({ table: 'messages', rowsDone: 10, rowsTotal: 10 });
    bar.update({ table: 'conversations', rowsDone: 1, rowsTotal: 1 });
    bar.done();
    expect(t.written[0]).toBe('\rFinding expired rows in messages, conversations…⌫');
    expect(t.written[1]).toMatch(/^\rmessages {24} █{15}░{15} 5\/10 rows {2}\d+(\.\d+)? s⌫$/);
    expect(t.written[2]).toMatch(/^\rmessages {24} █{30} 10\/10 rows/);
    expect(t.written[3]).toBe('\n');
    expect(t.written[4]).toMatch(/^\rconversations +█{30} 1\/1 rows/);
    expect(t.written.slice(5)).toEqual(['\n']);
  });

  it('retention with nothing to move: the opening line is erased, not left behind', () => {
    const t = stream(true);
    const bar = progressBar(t.stream);
    bar.start(['messages']);
    bar.done();
    expect(t.written).toEqual(['\rFinding expired rows in messages…⌫', '\r⌫']);
  });

  it('restore: a line per object read, then a newline', async () => {
    const t = stream(true);
    const p = restoreProgress(store, 'messages', t.stream);
    await p.store.head('a');
    await p.store.head('bb');
    p.done();
    expect(t.written).toEqual([
      '\rRestoring messages: reading the manifest…⌫',
      expect.stringMatching(/^\rRestoring messages: object 1 \(1\.0 MiB read\) {2}[\d.]+ s⌫$/),
      expect.stringMatching(/^\rRestoring messages: object 2 \(3\.0 MiB read\) {2}[\d.]+ s⌫$/),
      '\n',
    ]);
  });

  it('piped or redirected: nothing written, the store untouched', async () => {
    const t = stream(false);
    const bar = progressBar(t.stream);
    bar.start(['messages']);
    bar.update({ table: 'messages', rowsDone: 1, rowsTotal: 2 });
    bar.done();
    const p = restoreProgress(store, 'messages', t.stream);
    expect(p.store).toBe(store);
    await p.store.head('a');
    p.done();
    expect(t.written).toEqual([]);
  });
});
