import { createServer, type Server, type Socket } from 'node:net';
import { PgSql } from '../../lambdas/shared/sql/pg-driver';

/**
 * A server that accepts the login and, in the same packet, says it is shutting down: what a real
 * PostgreSQL does when it is stopped just as a connection completes. That moment cannot be timed
 * against a real server (it happened now and then in the "PostgreSQL stopped mid-run" test), so
 * this speaks the protocol's few messages itself.
 */
function shuttingDownServer(): Promise<{ server: Server; port: number }> {
  const message = (type: string, body: Buffer) => {
    const head = Buffer.alloc(5);
    head.write(type, 0, 'latin1');
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  };
  const int32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  const fields = (f: Record<string, string>) =>
    Buffer.concat([...Object.entries(f).map(([k, v]) => Buffer.from(`${k}${v}\0`, 'utf8')), Buffer.from([0])]);
  const server = createServer((socket: Socket) => {
    socket.once('data', () => {
      socket.end(
        Buffer.concat([
          message('R', int32(0)), // AuthenticationOk
          message('Z', Buffer.from('I')), // ReadyForQuery
          message('E', fields({ S: 'FATAL', V: 'FATAL', C: '57P01', M: 'terminating connection due to administrator command' })),
        ]),
      );
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })),
  );
}

describe('pg driver when the server goes away', () => {
  it('a connection told FATAL in the packet that completes its login fails its statements instead of crashing the process', async () => {
    const { server, port } = await shuttingDownServer();
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    const sql = new PgSql({ connectionString: `postgres://u@127.0.0.1:${port}/db`, maxConnections: 1 });
    try {
      await expect(sql.transaction((tx) => tx.query('SELECT 1'))).rejects.toThrow(/not queryable|terminat/i);
      await expect(sql.query('SELECT 1')).rejects.toThrow();
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      await sql.close().catch(() => undefined);
      server.close();
    }
  });
});
