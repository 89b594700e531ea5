import type { Sql, SqlExecutor } from '../../lambdas/shared/sql/types';

/** Wraps a Sql and records every statement and its parameters (to count queries, and to inspect what reached SQL). */
export function countingSql(inner: Sql): Sql & { statements: { text: string; params: readonly unknown[] }[] } {
  const statements: { text: string; params: readonly unknown[] }[] = [];
  const wrap = (ex: SqlExecutor): SqlExecutor => ({
    query: (text, params = []) => {
      statements.push({ text, params });
      return ex.query(text, params);
    },
    queryArrays: (text, params = []) => {
      statements.push({ text, params });
      return ex.queryArrays(text, params);
    },
    execute: (text, params = []) => {
      statements.push({ text, params });
      return ex.execute(text, params);
    },
    batch: (text, sets) => {
      statements.push({ text, params: sets });
      return ex.batch(text, sets);
    },
  });
  const outer = wrap(inner);
  return {
    ...outer,
    statements,
    driver: inner.driver,
    transaction: (fn) => inner.transaction((tx) => fn(wrap(tx))),
    close: () => inner.close(),
  };
}

/** Mutable clock for tests. */
export function testClock(iso: string) {
  let t = new Date(iso).getTime();
  return {
    now: () => new Date(t),
    advance(ms: number) {
      t += ms;
    },
    set(at: string) {
      t = new Date(at).getTime();
    },
  };
}
