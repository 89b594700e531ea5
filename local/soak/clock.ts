/** The soak's time: a virtual clock that runs `speed` times faster than the wall clock, and seeded choices. */
import type { Clock } from '../../lambdas/shared/runtime';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** Starts at `start` and advances `speed` virtual ms per real ms; `freeze()` stops it (the checker's instant). */
export class VirtualClock implements Clock {
  private frozenAt?: number;
  /**
   * The wall-clock instant (ms) at which virtual time is `start`: a job's child process builds its
   * clock from the soak's `start`, `speed` and `realStart`, so both read the same virtual time.
   */
  constructor(
    readonly start: Date,
    readonly speed: number,
    readonly realStart = Date.now(),
  ) {}

  now(): Date {
    return new Date(this.frozenAt ?? this.start.getTime() + (Date.now() - this.realStart) * this.speed);
  }

  freeze(): void {
    this.frozenAt ??= this.now().getTime();
  }

  /** Real milliseconds for `virtualMs` of virtual time. */
  real(virtualMs: number): number {
    return virtualMs / this.speed;
  }
}

/** mulberry32: a small seeded generator; one stream per actor so each one's choices replay from the seed. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  between(a: number, b: number): number {
    return a + this.next() * (b - a);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from nothing');
    return items[this.int(items.length)] as T;
  }

  /** A child stream: the same seed and name always give the same stream. */
  fork(name: string): Rng {
    let h = this.state ^ 0x811c9dc5;
    for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
    return new Rng(h >>> 0);
  }

  /** A UUID-shaped id from this stream (reproducible). */
  uuid(): string {
    const hex = Array.from({ length: 32 }, () => this.int(16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }
}
