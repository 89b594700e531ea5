/**
 * A private PostgreSQL in a child process, controlled over stdin (`halt`, `resume`, `stop`).
 * Tests use it to stop the database in the middle of a run: the server's process tree is then
 * not the test's own.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startPostgres } from './services';

if (require.main === module) {
  void (async () => {
    const pg = await startPostgres({ forceLocal: true });
    console.log(`URL ${pg.url}`);
    for await (const line of createInterface({ input: process.stdin })) {
      const cmd = line.trim();
      if (cmd === 'halt') await pg.restart?.halt();
      else if (cmd === 'resume') await pg.restart?.resume();
      else if (cmd === 'stop') break;
      console.log(`OK ${cmd}`);
    }
    await pg.stop();
    process.exit(0);
  })();
}

export interface PgProcess {
  readonly url: string;
  halt(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPgProcess(): Promise<PgProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'pg-process.ts')], {
    stdio: ['pipe', 'pipe', 'inherit'],
    cwd: join(__dirname, '..'),
  });
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (l) => waiting.shift()?.(l));
  const next = () => new Promise<string>((resolve) => waiting.push(resolve));
  const first = await next();
  if (!first.startsWith('URL ')) throw new Error(`PostgreSQL child did not start: ${first}`);
  const send = async (cmd: string) => {
    child.stdin.write(`${cmd}\n`);
    await next();
  };
  return {
    url: first.slice(4),
    halt: () => send('halt'),
    resume: () => send('resume'),
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin.write('stop\n');
      await exited;
    },
  };
}
