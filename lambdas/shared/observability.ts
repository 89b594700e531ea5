import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/** The logging port: Powertools' Logger satisfies it; tests pass a recorder. */
export interface Log {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** Powertools' Logger as a Log (its extra-argument type is wider than ours). */
function asLog(logger: Logger): Log {
  return {
    debug: (m, e) => (e ? logger.debug(m, e) : logger.debug(m)),
    info: (m, e) => (e ? logger.info(m, e) : logger.info(m)),
    warn: (m, e) => (e ? logger.warn(m, e) : logger.warn(m)),
    error: (m, e) => (e ? logger.error(m, e) : logger.error(m)),
  };
}

export type MetricUnitName = 'Count' | 'Milliseconds' | 'Seconds' | 'Bytes' | 'None';

/** The metrics port: EMF through Powertools in Lambda; a recorder in tests and locally. */
export interface MetricsSink {
  add(name: string, value: number, unit?: MetricUnitName): void;
  flush(): void;
}

export const NAMESPACE = 'ConversationDataLifecycle';

/**
 * The environment variable naming the metrics a function publishes (comma-separated; `-`: none).
 * The CDK sets it to what the alarms and the dashboard read (`ScheduledJob.jobMetric`): a custom
 * metric costs 0.30 USD a month for each hour it receives data, so one nobody reads is not sent.
 * The values it leaves out go into the same EMF line as plain fields (free, searchable in Logs
 * Insights) and stay in the run ledger. Unset (locally, in tests): every metric is published.
 */
export const PUBLISHED_METRICS_VARIABLE = 'PUBLISHED_METRICS';

/** The metric names PUBLISHED_METRICS allows; undefined: all of them. */
export function publishedMetrics(value: string | undefined): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  return new Set(
    value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s && s !== '-'),
  );
}

/** Powertools logger + metrics, built once per cold start by a handler. */
export function powertools(service: string): { log: Log; metrics: MetricsSink } {
  const logger = new Logger({ serviceName: service });
  const log = asLog(logger);
  const raw = new Metrics({ namespace: NAMESPACE, serviceName: service });
  return { log, metrics: emfMetrics(raw, publishedMetrics(process.env[PUBLISHED_METRICS_VARIABLE])) };
}

/** Powertools Metrics as a MetricsSink that publishes only the allowed names (all when undefined). */
export function emfMetrics(raw: Metrics, allowed: ReadonlySet<string> | undefined): MetricsSink {
  let published = 0;
  return {
    add: (name, value, unit = 'Count') => {
      if (allowed && !allowed.has(name)) {
        raw.addMetadata(name, String(value));
        return;
      }
      raw.addMetric(name, unit === 'None' ? MetricUnit.NoUnit : MetricUnit[unit], value);
      published++;
    },
    flush: () => {
      // Nothing to publish: no EMF line (Powertools would warn), and the fields are dropped with it.
      if (published === 0) raw.clearMetadata();
      else raw.publishStoredMetrics();
      published = 0;
    },
  };
}

export interface RecordedLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  extra?: Record<string, unknown>;
}

/** A logger that keeps lines in memory (tests) and optionally prints them (CLI). */
export function memoryLog(print?: (line: RecordedLine) => void): Log & { lines: RecordedLine[] } {
  const lines: RecordedLine[] = [];
  const at = (level: RecordedLine['level']) => (message: string, extra?: Record<string, unknown>) => {
    const line = { level, message, extra };
    lines.push(line);
    print?.(line);
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Metrics kept in memory: `values[name]` is the sum of what was added. */
export function memoryMetrics(): MetricsSink & { values: Record<string, number>; flushed: number } {
  const sink = {
    values: {} as Record<string, number>,
    flushed: 0,
    add(name: string, value: number) {
      sink.values[name] = (sink.values[name] ?? 0) + value;
    },
    flush() {
      sink.flushed++;
    },
  };
  return sink;
}
