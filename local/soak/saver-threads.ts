/**
 * The soak's end of local/soak/saver-child.ts: one child process per soak (LangGraph takes a second
 * or two to load), started through tsx with the soak's Redis and VirtualClock, sent one turn at a
 * time. A turn that fails (Redis down, the child gone, no answer in time) is reported as failed;
 * the app sends it again later (a turn is idempotent: every message carries its id). A child that
 * died is started again at the next turn.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { SaverAnswer, SaverChildSpec, SaverTurn } from './saver-child';

const TSX = join(__dirname, '../../node_modules/.bin/tsx');
const CHILD = join(__dirname, 'saver-child.ts');

/** What the app needs of the savers. */
export interface SaverPort {
  turn(t: Omit<SaverTurn, 'seq'>): Promise<SaverAnswer>;
}

export class SaverChild implements SaverPort {
  private child?: ChildProcess;
  private ready?: Promise<void>;
  private seq = 0;
  private readonly waiting = new Map<number, (a: SaverAnswer) => void>();
  private stderr = '';
  /** Children started (1 unless one died). */
  starts = 0;

  constructor(
    private readonly spec: SaverChildSpec,
    private readonly turnTimeoutMs = 15_000,
  ) {}

  /** Starts the child (if not running) and resolves once LangGraph is loaded. */
  start(): Promise<void> {
    if (this.ready && this.child && this.child.exitCode === null && this.child.signalCode === null) return this.ready;
    this.starts++;
    const child = spawn(TSX, [CHILD, JSON.stringify(this.spec)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdin?.on('error', () => undefined);
    this.ready = new Promise<void>((resolve, reject) => {
      let out = '';
      const giveUp = setTimeout(() => reject(new Error(`the saver child did not start in 60 s: ${this.stderr.slice(-300)}`)), 60_000);
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
          const line = out.slice(0, nl);
          out = out.slice(nl + 1);
          let msg: { ready?: boolean } & Partial<SaverAnswer>;
          try {
            msg = JSON.parse(line);
          } catch {
            continue; // not one of ours
          }
          if (msg.ready) {
            clearTimeout(giveUp);
            resolve();
          } else if (typeof msg.seq === 'number') {
            this.waiting.get(msg.seq)?.(msg as SaverAnswer);
            this.waiting.delete(msg.seq);
          }
        }
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        this.stderr = (this.stderr + chunk.toString('utf8')).slice(-2_000);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(giveUp);
        reject(new Error(`the saver child exited ${code ?? signal}: ${this.stderr.slice(-300)}`));
        for (const [seq, answer] of this.waiting) answer({ seq, ok: false, error: `the saver child exited ${code ?? signal}` });
        this.waiting.clear();
      });
    });
    this.ready.catch(() => undefined);
    return this.ready;
  }

  async turn(t: Omit<SaverTurn, 'seq'>): Promise<SaverAnswer> {
    const seq = ++this.seq;
    try {
      await this.start();
    } catch (e) {
      return { seq, ok: false, error: (e as Error).message };
    }
    return new Promise<SaverAnswer>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(seq);
        resolve({ seq, ok: false, error: `no answer in ${this.turnTimeoutMs} ms` });
      }, this.turnTimeoutMs);
      this.waiting.set(seq, (a) => {
        clearTimeout(timer);
        resolve(a);
      });
      this.child?.stdin?.write(`${JSON.stringify({ ...t, seq })}\n`);
    });
  }

  /**
   * The nemesis: SIGKILLs the child (the app's process dying mid-turn); the turns it owed fail and
   * the app sends them again, to a new child, at their threads' next turn. Says whether a turn was in flight.
   */
  /** Turns sent and not yet answered. */
  get inFlight(): number {
    return this.waiting.size;
  }

  kill(): 'mid-turn' | 'idle' | 'not-running' {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return 'not-running';
    const inFlight = this.waiting.size > 0;
    child.kill('SIGKILL');
    return inFlight ? 'mid-turn' : 'idle';
  }

  /** Ends the child: stdin closed (it finishes its turn), SIGKILL after 3 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }
}
