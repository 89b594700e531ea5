/**
 * Makes this process's wall clock the soak's virtual clock: after `installVirtualDate`, `Date.now()`,
 * `new Date()` and `Date()` return `start + (realNow − realStart) × speed` (what VirtualClock.now()
 * says in the soak's process). Only for a child that runs code stamping documents with the wall
 * clock (the real LangGraph savers: `checkpoint_ts: Date.now()`, `ts: new Date()`, uuid6 ids from
 * `Date.now()`); install it before that code is loaded. `new Date(x)` and every other use of `Date`
 * are untouched, and timers (setTimeout) stay real.
 */

export interface VirtualDateSpec {
  /** Virtual time at `realStart` (ISO). */
  readonly start: string;
  /** Virtual ms per real ms. */
  readonly speed: number;
  /** Wall-clock ms at which virtual time is `start`. */
  readonly realStart: number;
}

export function installVirtualDate(spec: VirtualDateSpec): () => number {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  const start = new RealDate(spec.start).getTime();
  const virtualNow = () => Math.floor(start + (realNow() - spec.realStart) * spec.speed);
  const Virtual = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      return Reflect.construct(target, args.length === 0 ? [virtualNow()] : args, newTarget);
    },
    apply() {
      return new RealDate(virtualNow()).toString();
    },
    get(target, prop, receiver) {
      if (prop === 'now') return virtualNow;
      return Reflect.get(target, prop, receiver);
    },
  });
  globalThis.Date = Virtual;
  return virtualNow;
}
