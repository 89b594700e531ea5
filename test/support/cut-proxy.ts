/**
 * A TCP proxy in front of PostgreSQL that goes dark at a chosen moment: when a client's bytes
 * contain `cutOn` (default: the first `BEGIN`, i.e. the first transaction), every connection is
 * dropped and the port refuses new ones — a database that dies mid-run, for a process we do not
 * control (the CLI as a child process). Checks before that moment (`SELECT 1`) go through.
 */
import { createServer, type Socket, connect as tcpConnect } from 'node:net';

export interface CutProxy {
  /** `postgresUrl` with the proxy's host and port. */
  readonly url: string;
  /** Whether the proxy has gone dark. */
  readonly cut: boolean;
  close(): Promise<void>;
}

export async function cutProxy(postgresUrl: string, cutOn = 'BEGIN'): Promise<CutProxy> {
  const target = new URL(postgresUrl);
  const sockets = new Set<Socket>();
  let cut = false;
  const server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (chunk: Buffer) => {
      if (cut) return;
      if (chunk.includes(cutOn)) {
        goDark();
        return;
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const goDark = () => {
    cut = true;
    server.close();
    for (const s of sockets) s.destroy();
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = new URL(postgresUrl);
  url.hostname = '127.0.0.1';
  url.port = String(typeof address === 'object' && address ? address.port : 0);
  return {
    url: url.toString(),
    get cut() {
      return cut;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise((resolve) => server.close(resolve));
    },
  };
}
