/**
 * Per-environment settings: one typed, validated module used by the CDK app (what to deploy)
 * and by the Lambdas (how to run), selected with `-c env=<name>` / `ENV_NAME`.
 */
import { assertTimeZone } from '../lambdas/shared/time';
import { parseCron } from './cron';

export const ENVIRONMENT_NAMES = ['dev', 'staging', 'prod'] as const;
export type EnvironmentName = (typeof ENVIRONMENT_NAMES)[number];

export interface ScheduleConfig {
  /** EventBridge Scheduler cron: `cron(min hour day-of-month month day-of-week year)`. */
  readonly cron: string;
  readonly timeZone: string;
}

export interface ArchiveConfig {
  readonly schedule: ScheduleConfig;
  /** Archive checkpoints older than this (seed 000: 23 h, one hour before the 24 h TTL). */
  readonly cutoffHours: number;
  /** The Redis TTL the app sets on checkpoints (used to derive age from PTTL). */
  readonly checkpointTtlHours: number;
  /** Database attempts per conversation (seed 000: 2) and the wait between them (5 s). */
  readonly retryAttempts: number;
  readonly retryDelayMs: number;
  /** Key prefixes of the two checkpoint layouts. */
  readonly seedKeyPrefix: string;
  readonly saverKeyPrefix: string;
  readonly scanCount: number;
  /** Conversations read and written per database round trip. */
  readonly batchSize: number;
  readonly timeoutMinutes: number;
  /**
   * Stale-run alarm: no success for this long. Seed 000 said 90 min for hourly runs; it must page while
   * the threads due since the last success can still be archived (validated: ≤ the window between the
   * cutoff and the TTL, less one run's interval).
   */
  readonly staleAfterMinutes: number;
}

/**
 * One retention policy per table: the ONE registry the retention job (export → verify → manifest +
 * delete), the restore and the CDK (S3 prefixes, Glue tables) all read. Adding a table is adding an entry.
 */
export interface RetentionPolicy {
  readonly table: string;
  /**
   * The row's time: one column, or several read as `coalesce(a, b, …)` (conversations: the last
   * message, else the start). Rows older than `days` (in `RetentionConfig.timeZone`) expire.
   */
  readonly timeColumns: readonly string[];
  /** How the time column is stored: `timestamptz`, a `date` (daily/weekly periods) or `YYYY-MM` text (months). */
  readonly timeKind: 'timestamptz' | 'date' | 'month';
  /** A unique key (the primary key), the keyset after the time: pages are ordered by (time, key). */
  readonly keyColumns: readonly string[];
  readonly days: number;
  /** Off: the table is never read, exported or deleted. */
  readonly enabled: boolean;
  /** `no-messages`: a conversation goes only once no message of it is left (they expire first). */
  readonly requires?: 'no-messages';
}

export interface RetentionConfig {
  readonly schedule: ScheduleConfig;
  /** Days are counted in this zone: the cutoff is the same wall-clock time `days` calendar days ago. */
  readonly timeZone: string;
  readonly timeoutMinutes: number;
  /** Stale alarm: no successful run for this long (a daily job: 26 h). */
  readonly staleAfterHours: number;
  /** Rows per object at most (one object = one Parquet file = one manifest row). */
  readonly maxRowsPerObject: number;
  /** Rows per Parquet row group: the writer's memory is about one row group. */
  readonly rowGroupRows: number;
  /** Processed in this order: messages before conversations (a conversation waits for its messages). */
  readonly policies: readonly RetentionPolicy[];
  /** Restored rows stay in PostgreSQL this many days before retention may export them again. */
  readonly restoreHoldDays: number;
}

export interface AggregationJobConfig {
  readonly name: string;
  readonly schedule: ScheduleConfig;
  readonly granularity: 'hourly' | 'daily' | 'weekly' | 'monthly';
}

/** Analytics ingestion (SQS → ingest Lambda) and the aggregation functions (issue 14). */
export interface AnalyticsConfig {
  /** Records per ingest invocation (each record carries many events) and how long SQS may gather them. */
  readonly ingestBatchSize: number;
  readonly ingestBatchingWindowSeconds: number;
  readonly ingestTimeoutSeconds: number;
  /** Receives before a message goes to the dead-letter queue. */
  readonly maxReceiveCount: number;
  /** Rejected events per hour that page (0 pages on the first one). */
  readonly rejectedEventsAlarmPerHour: number;
  readonly aggregationTimeoutMinutes: number;
  /**
   * The watchdog counts a job stale after this long without a success, per cadence: the
   * aggregations by granularity, the scheduled reports by type.
   */
  readonly staleAfterMinutes: Readonly<Record<AggregationJobConfig['granularity'], number>>;
}

export type ReportType = 'daily' | 'weekly' | 'monthly';
export const REPORT_TYPES: readonly ReportType[] = ['daily', 'weekly', 'monthly'];

export interface ReportScheduleConfig {
  readonly type: ReportType;
  /** Every hour (dev: every six hours), after the aggregations it reads. */
  readonly schedule: ScheduleConfig;
  /** Aggregation jobs that must have succeeded for the period (checked in the run ledger). */
  readonly after: readonly string[];
}

/** The analytics read side (issue 10): dashboard, time series, reports. */
export interface AnalyticsServingConfig {
  /** The dashboard's per-container cache (seed 001: LRUCache, 60 s, 100 entries). */
  readonly cacheTtlMs: number;
  readonly cacheMaxEntries: number;
  /** A time series has at most this many points (all its series together). */
  readonly maxPoints: number;
  /** The longest range a time series may ask for. */
  readonly maxRangeDays: number;
  /** A conversation started within this window and not resolved/closed since is active. */
  readonly activeConversationWindowHours: number;
  /** A staff member's latest status event older than this no longer counts (a forgotten logout). */
  readonly staffStatusWindowHours: number;
  /** Tasks created within this window and not completed are pending (raw events live 90 days). */
  readonly pendingTaskWindowDays: number;
  readonly apiTimeoutSeconds: number;
  readonly reportsTimeoutMinutes: number;
  readonly reportSchedules: readonly ReportScheduleConfig[];
}

export interface AuroraConfig {
  /** 0 enables auto-pause (dev); ≥ 0.5 keeps the cluster warm (prod). */
  readonly minCapacityAcu: number;
  readonly maxCapacityAcu: number;
  /** Seconds idle before auto-pause when min capacity is 0. */
  readonly autoPauseSeconds: number;
  readonly backupRetentionDays: number;
  readonly deletionProtection: boolean;
  readonly databaseName: string;
}

export interface ValkeyConfig {
  readonly maxDataStorageGb: number;
  readonly maxEcpuPerSecond: number;
}

/**
 * Who the alarm topic pages. Never written in this file: the subscribers of a deployment come from
 * CDK context or the environment (`alarmSubscribersFrom`), the environment says only whether it needs them.
 */
export interface AlarmConfig {
  /** A deployment without a subscriber fails at synth (staging, prod); dev may go without. */
  readonly required: boolean;
  readonly emails: readonly string[];
  readonly httpsEndpoints: readonly string[];
  /**
   * Alarms per function too (each function's errors, at once and by name; duration near the
   * timeout and throttles where they serve), besides what every environment has: the watchdog's
   * stale and failing jobs, the archive's own staleness, the schedules' dead letters, analytics,
   * retention and the platform (docs/runbook.md). Off in dev, where they were most of its idle
   * cost (docs/deploy.md, "Idle cost of dev"). @default false
   */
  readonly perFunction?: boolean;
}

export interface EnvironmentConfig {
  readonly name: EnvironmentName;
  /** Optional so `cdk synth` works offline (environment-agnostic stacks). */
  readonly account?: string;
  readonly region?: string;
  readonly archive: ArchiveConfig;
  readonly aggregation: { readonly timeZone: string; readonly jobs: readonly AggregationJobConfig[] };
  readonly analytics: AnalyticsConfig;
  readonly analyticsServing: AnalyticsServingConfig;
  readonly retention: RetentionConfig;
  readonly backfill: { readonly timeoutMinutes: number; readonly batchSize: number };
  readonly aurora: AuroraConfig;
  readonly valkey: ValkeyConfig;
  /** AZs holding the rds-data interface endpoint (~7.3 USD/month each). */
  readonly interfaceEndpointAzs: 1 | 2;
  readonly alarms: AlarmConfig;
  readonly logRetentionDays: number;
  /** Keep data (database, bucket, table) when the stack is deleted. */
  readonly retainData: boolean;
}

const MADRID = 'Europe/Madrid';

/**
 * The seven aggregations' schedules: one schedule per aggregation, each run closing in every zone
 * (the configured one and each registered property's) the periods that have ended there, plus the
 * grace (`GRACE_MINUTES`). Hours end at :00, :15, :30 or :45 UTC somewhere (Kolkata, Kathmandu,
 * Chatham), so the hourly ones run every 15 minutes; a day, week or month ends at local midnight,
 * which falls in a different UTC hour per zone, so the others run every hour (a run where nothing new
 * has closed in a zone leaves that zone alone). `hours` is when they run: every hour (`*`), or in dev
 * every six hours from 01:00 (`1/6`), all together, since each run wakes an auto-paused Aurora (a
 * scheduled run catches up every period closed since its zone's watermark).
 */
const aggregationJobs = (timeZone: string, dev = false): AggregationJobConfig[] => {
  const at = (minute: number | string, days = '* * ?') => `cron(${minute} ${dev ? '1/6' : '*'} ${days} *)`;
  return [
    { name: 'hourly_message_counts', granularity: 'hourly', schedule: { cron: at(dev ? 0 : '0/15'), timeZone } },
    { name: 'hourly_response_times', granularity: 'hourly', schedule: { cron: at(dev ? 5 : '5/15'), timeZone } },
    { name: 'daily_conversation_metrics', granularity: 'daily', schedule: { cron: at(0), timeZone } },
    { name: 'daily_staff_performance', granularity: 'daily', schedule: { cron: at(0), timeZone } },
    { name: 'daily_intent_distribution', granularity: 'daily', schedule: { cron: at(0), timeZone } },
    // Weeks start on Monday (ISO 8601) in each zone: a week closes at its zone's Monday 00:00.
    { name: 'weekly_satisfaction_trends', granularity: 'weekly', schedule: { cron: at(0, dev ? DEV_WEEKLY_DAYS : '* * ?'), timeZone } },
    { name: 'monthly_summary', granularity: 'monthly', schedule: { cron: at(0, dev ? DEV_MONTHLY_DAYS : '* * ?'), timeZone } },
  ];
};

/**
 * In dev, the weekly and monthly jobs (and their reports) run on the days their periods close
 * somewhere: every zone's Monday 00:00 (+ the grace) falls between Sunday 11:00 and Monday 14:00 in
 * Madrid, its 1st of the month likewise, so Monday's and the 1st's runs (01:00 to 19:00 Madrid) close
 * every zone's (the eastern ones up to 14 hours after their end); the other days' runs would find
 * nothing new and cost metric-hours.
 */
const DEV_WEEKLY_DAYS = '? * MON';
const DEV_MONTHLY_DAYS = '1 * ?';

/**
 * How long after a period ends in its zone a scheduled run closes it (events still on their way:
 * the SQS batching, retries): an hour at once (a late event is recomputed by the next run through
 * the invalidation log), a day, week or month an hour after its local midnight, as the daily jobs'
 * 01:00 schedule gave before. The reports wait for an aggregation that started after end + grace.
 */
export const GRACE_MINUTES: Readonly<Record<AggregationJobConfig['granularity'], number>> = {
  hourly: 0,
  daily: 60,
  weekly: 60,
  monthly: 60,
};

const DAILY_AGGREGATIONS = ['daily_conversation_metrics', 'daily_staff_performance', 'daily_intent_distribution'];
const HOURLY_AGGREGATIONS = ['hourly_message_counts', 'hourly_response_times'];
const analyticsServing = (timeZone: string, dev = false): AnalyticsServingConfig => ({
  cacheTtlMs: 60_000,
  cacheMaxEntries: 100,
  maxPoints: 2_000,
  maxRangeDays: 3_660,
  activeConversationWindowHours: 24,
  staffStatusWindowHours: 24,
  pendingTaskWindowDays: 90,
  apiTimeoutSeconds: 30,
  reportsTimeoutMinutes: 15,
  // Every hour (dev: every six hours, in the aggregations' wake), half an hour after the aggregations
  // (dev: 10 minutes): each property's report of the period that closed last in its zone, once the
  // aggregations it reads have run since that period ended + the grace; a report already written is
  // not written again.
  reportSchedules: REPORT_TYPES.map((type) => ({
    type,
    schedule: {
      cron: dev
        ? `cron(10 1/6 ${type === 'weekly' ? DEV_WEEKLY_DAYS : type === 'monthly' ? DEV_MONTHLY_DAYS : '* * ?'} *)`
        : 'cron(30 * * * ? *)',
      timeZone,
    },
    after:
      type === 'daily'
        ? [...HOURLY_AGGREGATIONS, ...DAILY_AGGREGATIONS]
        : type === 'weekly'
          ? [...HOURLY_AGGREGATIONS, ...DAILY_AGGREGATIONS, 'weekly_satisfaction_trends']
          : [...DAILY_AGGREGATIONS, 'monthly_summary'],
  })),
});
/**
 * Seed 000 (messages: 6 months), seed 001's cleanup (raw events 90 days; hourly aggregates 30,
 * daily 365, weekly 730, monthly 1095), quarantined checkpoints a year. `audits` and `leads` (the
 * backfill's source of truth) have no entry: they are never touched unless one is added here.
 */
export const RETENTION_POLICIES: readonly RetentionPolicy[] = [
  { table: 'messages', timeColumns: ['created_at'], timeKind: 'timestamptz', keyColumns: ['id'], days: 180, enabled: true },
  {
    table: 'conversations',
    timeColumns: ['last_message_at', 'started_at'],
    timeKind: 'timestamptz',
    keyColumns: ['id'],
    days: 180,
    enabled: true,
    requires: 'no-messages',
  },
  { table: 'analytics_events', timeColumns: ['occurred_at'], timeKind: 'timestamptz', keyColumns: ['id'], days: 90, enabled: true },
  {
    table: 'analytics_events_rejected',
    timeColumns: ['rejected_at'],
    timeKind: 'timestamptz',
    keyColumns: ['id'],
    days: 90,
    enabled: true,
  },
  {
    table: 'agg_message_counts_hourly',
    timeColumns: ['period_start'],
    timeKind: 'timestamptz',
    keyColumns: ['property_id', 'channel', 'direction'],
    days: 30,
    enabled: true,
  },
  {
    table: 'agg_response_times_hourly',
    timeColumns: ['period_start'],
    timeKind: 'timestamptz',
    keyColumns: ['property_id', 'channel'],
    days: 30,
    enabled: true,
  },
  {
    table: 'agg_conversation_metrics_daily',
    timeColumns: ['period_date'],
    timeKind: 'date',
    keyColumns: ['property_id', 'channel'],
    days: 365,
    enabled: true,
  },
  {
    table: 'agg_staff_performance_daily',
    timeColumns: ['period_date'],
    timeKind: 'date',
    keyColumns: ['property_id', 'staff_id'],
    days: 365,
    enabled: true,
  },
  {
    table: 'agg_intent_distribution_daily',
    timeColumns: ['period_date'],
    timeKind: 'date',
    keyColumns: ['property_id', 'intent'],
    days: 365,
    enabled: true,
  },
  {
    table: 'agg_satisfaction_weekly',
    timeColumns: ['period_start'],
    timeKind: 'date',
    keyColumns: ['property_id', 'channel'],
    days: 730,
    enabled: true,
  },
  {
    table: 'agg_monthly_summary',
    timeColumns: ['period_month'],
    timeKind: 'month',
    keyColumns: ['property_id'],
    days: 1095,
    enabled: true,
  },
  { table: 'checkpoint_quarantine', timeColumns: ['last_seen_at'], timeKind: 'timestamptz', keyColumns: ['id'], days: 365, enabled: true },
];

const base: Omit<EnvironmentConfig, 'name' | 'aurora' | 'alarms' | 'retainData'> = {
  archive: {
    // Every 15 minutes, not seed 000's hourly: a thread is due (older than the cutoff) for the last hour
    // of its TTL, and an hourly schedule gives it one run there — one failed run and its messages are
    // gone. Four runs: losing it takes an hour of failures, and the stale alarm pages before that.
    schedule: { cron: 'cron(0/15 * * * ? *)', timeZone: MADRID },
    cutoffHours: 23,
    checkpointTtlHours: 24,
    retryAttempts: 2,
    retryDelayMs: 5_000,
    seedKeyPrefix: 'langgraph:checkpoint:',
    saverKeyPrefix: 'checkpoint:',
    scanCount: 1_000,
    batchSize: 200,
    timeoutMinutes: 15,
    staleAfterMinutes: 40,
  },
  aggregation: { timeZone: MADRID, jobs: aggregationJobs(MADRID) },
  analytics: {
    ingestBatchSize: 10,
    ingestBatchingWindowSeconds: 5,
    ingestTimeoutSeconds: 60,
    maxReceiveCount: 5,
    rejectedEventsAlarmPerHour: 0,
    aggregationTimeoutMinutes: 15,
    // One schedule closing each zone (issue 23): the hourly jobs run every 15 min (stale after 6 missed runs),
    // the daily, weekly and monthly ones and the reports every hour (stale after 3 missed runs).
    staleAfterMinutes: { hourly: 90, daily: 180, weekly: 180, monthly: 180 },
  },
  analyticsServing: analyticsServing(MADRID),
  retention: {
    schedule: { cron: 'cron(30 4 * * ? *)', timeZone: MADRID },
    timeZone: MADRID,
    timeoutMinutes: 15,
    staleAfterHours: 26,
    maxRowsPerObject: 250_000,
    rowGroupRows: 10_000,
    policies: RETENTION_POLICIES,
    restoreHoldDays: 30,
  },
  backfill: { timeoutMinutes: 15, batchSize: 5_000 },
  valkey: { maxDataStorageGb: 1, maxEcpuPerSecond: 5_000 },
  interfaceEndpointAzs: 2,
  logRetentionDays: 30,
};

export const ENVIRONMENTS: Readonly<Record<EnvironmentName, EnvironmentConfig>> = {
  dev: {
    ...base,
    name: 'dev',
    // Idle cost (docs/deploy.md): the aggregations and reports every 6 hours, in one wake of Aurora;
    // the hourly and daily ones stale after 6 h + 90 min
    aggregation: { timeZone: MADRID, jobs: aggregationJobs(MADRID, true) },
    analyticsServing: analyticsServing(MADRID, true),
    // (weekly runs on Mondays, monthly on the 1st).
    analytics: {
      ...base.analytics,
      staleAfterMinutes: { hourly: 6 * 60 + 90, daily: 6 * 60 + 90, weekly: 8 * 24 * 60, monthly: 32 * 24 * 60 },
    },
    aurora: {
      minCapacityAcu: 0,
      maxCapacityAcu: 2,
      // The shortest Aurora allows: each scheduled run keeps the cluster awake this long after it.
      autoPauseSeconds: 300,
      backupRetentionDays: 1,
      deletionProtection: false,
      databaseName: 'conversations',
    },
    alarms: { required: false, emails: [], httpsEndpoints: [], perFunction: false },
    interfaceEndpointAzs: 1,
    logRetentionDays: 14,
    retainData: false,
  },
  staging: {
    ...base,
    name: 'staging',
    aurora: {
      minCapacityAcu: 0,
      maxCapacityAcu: 4,
      autoPauseSeconds: 1_800,
      backupRetentionDays: 7,
      deletionProtection: false,
      databaseName: 'conversations',
    },
    alarms: { required: true, emails: [], httpsEndpoints: [], perFunction: true },
    retainData: false,
  },
  prod: {
    ...base,
    name: 'prod',
    aurora: {
      minCapacityAcu: 0.5,
      maxCapacityAcu: 16,
      autoPauseSeconds: 0,
      backupRetentionDays: 14,
      deletionProtection: true,
      databaseName: 'conversations',
    },
    valkey: { maxDataStorageGb: 10, maxEcpuPerSecond: 50_000 },
    alarms: { required: true, emails: [], httpsEndpoints: [], perFunction: true },
    logRetentionDays: 90,
    retainData: true,
  },
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The named environment, validated; an unknown name lists the valid ones. */
export function getEnvironment(
  name: string | undefined,
  overrides?: { account?: string; region?: string; alarms?: Pick<AlarmConfig, 'emails' | 'httpsEndpoints'> },
): EnvironmentConfig {
  if (!name || !(ENVIRONMENT_NAMES as readonly string[]).includes(name)) {
    throw new ConfigError(`Unknown environment "${name ?? ''}": expected one of ${ENVIRONMENT_NAMES.join(', ')} (cdk ... -c env=<name>)`);
  }
  const base = ENVIRONMENTS[name as EnvironmentName];
  const { alarms, ...rest } = overrides ?? {};
  const env = { ...base, ...stripUndefined(rest), ...(alarms ? { alarms: { ...base.alarms, ...alarms } } : {}) };
  validateEnvironment(env);
  return env;
}

/** Where a deployment's alarm subscribers are given: CDK context first, else an environment variable. */
export const ALARM_SUBSCRIBER_SOURCES = {
  emails: { context: 'alarmEmails', variable: 'DLC_ALARM_EMAILS' },
  httpsEndpoints: { context: 'alarmHttpsEndpoints', variable: 'DLC_ALARM_HTTPS_ENDPOINTS' },
} as const;

/**
 * The alarm subscribers given to this synth: `-c alarmEmails=a@x,b@y` / `-c alarmHttpsEndpoints=https://…`
 * (comma-separated, or a list in cdk.context.json), else `DLC_ALARM_EMAILS` / `DLC_ALARM_HTTPS_ENDPOINTS`.
 */
export function alarmSubscribersFrom(
  context: (key: string) => unknown,
  vars: Readonly<Record<string, string | undefined>>,
): Pick<AlarmConfig, 'emails' | 'httpsEndpoints'> {
  const read = (source: { readonly context: string; readonly variable: string }): string[] => {
    const v = context(source.context) ?? vars[source.variable] ?? '';
    return (Array.isArray(v) ? v.map(String) : String(v).split(',')).map((x) => x.trim()).filter((x) => x.length > 0);
  };
  return { emails: read(ALARM_SUBSCRIBER_SOURCES.emails), httpsEndpoints: read(ALARM_SUBSCRIBER_SOURCES.httpsEndpoints) };
}

/** An environment that must page someone (staging, prod) and has no subscriber: fails saying how to give them. */
export function assertAlarmSubscribers(env: EnvironmentConfig): void {
  if (!env.alarms.required || env.alarms.emails.length + env.alarms.httpsEndpoints.length > 0) return;
  const { emails: e, httpsEndpoints: h } = ALARM_SUBSCRIBER_SOURCES;
  throw new ConfigError(
    `${env.name}: the alarms would page nobody. Give their subscribers when you synth or deploy, comma-separated, as CDK context:\n` +
      `   npx cdk deploy -c env=${env.name} -c ${e.context}=a@x.com,b@y.com -c ${h.context}=https://…\n` +
      `or as environment variables: ${e.variable}=a@x.com,b@y.com ${h.variable}=https://… npx cdk deploy -c env=${env.name}\n` +
      '(either kind is enough; placeholders such as example.com or REPLACE_ME are refused).',
  );
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const CRON = /^cron\((\S+\s+){5}\S+\)$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
/** Reserved names (RFC 2606: example.com, *.invalid, …) and fill-me-in markers: an alarm sent there reaches nobody. */
const PLACEHOLDER = /(^|[@./])example\.(com|org|net)($|[/:?#])|\.(example|invalid|test|localhost)($|[/:?#])|REPLACE_ME|<[^>]*>/i;

/** Runs a thread gets in the window between the cutoff and its TTL, at least (the archive's margin). */
export const ARCHIVE_MIN_CHANCES = 3;

/**
 * A thread is due from `cutoffHours` after its last write until its TTL takes it: every scheduled run
 * in that window is a chance to archive it. The longest gap between runs over a year (daylight saving
 * included) must leave ARCHIVE_MIN_CHANCES of them, so that a failed run loses nothing; and the stale
 * alarm must page while a run can still save what became due after the last success.
 */
export function archiveChanceProblems(a: ArchiveConfig): string[] {
  if (!(a.cutoffHours > 0 && a.cutoffHours < a.checkpointTtlHours)) return []; // reported by its own check
  let fires: number[];
  try {
    fires = parseCron(a.schedule.cron).firesIn(a.schedule.timeZone, new Date('2025-01-06T00:00:00Z'), 364);
  } catch {
    return []; // a malformed schedule or zone is reported by its own check
  }
  const windowMin = (a.checkpointTtlHours - a.cutoffHours) * 60;
  let gapMin = fires.length > 1 ? 0 : Number.POSITIVE_INFINITY;
  for (let i = 1; i < fires.length; i++) gapMin = Math.max(gapMin, ((fires[i] as number) - (fires[i - 1] as number)) / 60_000);
  const chances = Math.floor(windowMin / gapMin);
  const problems: string[] = [];
  if (chances < ARCHIVE_MIN_CHANCES)
    problems.push(
      `archive: a thread is due for ${windowMin} min before its TTL (cutoffHours ${a.cutoffHours}, checkpointTtlHours ${a.checkpointTtlHours}) and "${a.schedule.cron}" runs as little as every ${gapMin} min: ${chances} run(s) in that window, at least ${ARCHIVE_MIN_CHANCES} needed so that a failed run loses nothing (run it more often or lower cutoffHours)`,
    );
  else if (a.staleAfterMinutes > windowMin - gapMin)
    problems.push(
      `archive.staleAfterMinutes (${a.staleAfterMinutes}) must be at most ${windowMin - gapMin}: the due window (${windowMin} min) less one run's interval (${gapMin} min), so that the alarm pages while a run can still archive what became due after the last success`,
    );
  return problems;
}

/** Throws a ConfigError listing every problem, not only the first. */
export function validateEnvironment(env: EnvironmentConfig): void {
  const problems: string[] = [];
  const check = (ok: boolean, msg: string) => {
    if (!ok) problems.push(msg);
  };
  const schedules: [string, ScheduleConfig][] = [
    ['archive', env.archive.schedule],
    ['retention', env.retention.schedule],
    ...env.aggregation.jobs.map((j): [string, ScheduleConfig] => [j.name, j.schedule]),
    ...env.analyticsServing.reportSchedules.map((r): [string, ScheduleConfig] => [`reports-${r.type}`, r.schedule]),
  ];
  const s = env.analyticsServing;
  check(s.cacheTtlMs >= 0 && s.cacheTtlMs <= 3_600_000, 'analyticsServing.cacheTtlMs must be 0–3600000');
  check(Number.isInteger(s.cacheMaxEntries) && s.cacheMaxEntries >= 1, 'analyticsServing.cacheMaxEntries must be a positive integer');
  check(Number.isInteger(s.maxPoints) && s.maxPoints >= 1 && s.maxPoints <= 100_000, 'analyticsServing.maxPoints must be 1–100000');
  check(s.maxRangeDays >= 1 && s.maxRangeDays <= 36_600, 'analyticsServing.maxRangeDays must be 1–36600');
  const jobNames = new Set(env.aggregation.jobs.map((j) => j.name));
  for (const r of s.reportSchedules) for (const a of r.after) check(jobNames.has(a), `reports-${r.type}: "${a}" is not an aggregation job`);
  for (const [job, s] of schedules) {
    check(CRON.test(s.cron), `${job}: schedule "${s.cron}" is not an EventBridge cron(...) with 6 fields`);
    try {
      assertTimeZone(s.timeZone);
    } catch (e) {
      problems.push(`${job}: ${(e as Error).message}`);
    }
  }
  const a = env.archive;
  check(
    a.cutoffHours > 0 && a.cutoffHours < a.checkpointTtlHours,
    `archive.cutoffHours must be between 0 and the checkpoint TTL (${a.checkpointTtlHours} h)`,
  );
  check(
    Number.isInteger(a.retryAttempts) && a.retryAttempts >= 1 && a.retryAttempts <= 10,
    'archive.retryAttempts must be an integer from 1 to 10',
  );
  check(a.retryDelayMs >= 0 && a.retryDelayMs <= 60_000, 'archive.retryDelayMs must be 0–60000');
  check(a.batchSize >= 1 && a.batchSize <= 5_000, 'archive.batchSize must be 1–5000');
  check(a.timeoutMinutes >= 1 && a.timeoutMinutes <= 15, 'archive.timeoutMinutes must be 1–15 (Lambda maximum)');
  check(a.seedKeyPrefix.length > 0 && a.saverKeyPrefix.length > 0, 'archive key prefixes must not be empty');
  problems.push(...archiveChanceProblems(a));
  problems.push(...retentionProblems(env.retention));
  const an = env.analytics;
  check(
    Number.isInteger(an.ingestBatchSize) && an.ingestBatchSize >= 1 && an.ingestBatchSize <= 10_000,
    'analytics.ingestBatchSize must be 1–10000',
  );
  check(
    an.ingestBatchingWindowSeconds >= 0 && an.ingestBatchingWindowSeconds <= 300,
    'analytics.ingestBatchingWindowSeconds must be 0–300',
  );
  check(an.ingestTimeoutSeconds >= 10 && an.ingestTimeoutSeconds <= 900, 'analytics.ingestTimeoutSeconds must be 10–900');
  check(
    Number.isInteger(an.maxReceiveCount) && an.maxReceiveCount >= 1 && an.maxReceiveCount <= 1000,
    'analytics.maxReceiveCount must be 1–1000',
  );
  check(an.rejectedEventsAlarmPerHour >= 0, 'analytics.rejectedEventsAlarmPerHour must be ≥ 0');
  check(
    an.aggregationTimeoutMinutes >= 1 && an.aggregationTimeoutMinutes <= 15,
    'analytics.aggregationTimeoutMinutes must be 1–15 (Lambda maximum)',
  );
  for (const [g, m] of Object.entries(an.staleAfterMinutes))
    check(m >= 15, `analytics.staleAfterMinutes.${g} must be at least 15 (the watchdog runs every 15 min)`);
  check(
    env.aurora.minCapacityAcu >= 0 && env.aurora.maxCapacityAcu >= Math.max(1, env.aurora.minCapacityAcu),
    'aurora capacity: 0 ≤ min ≤ max, max ≥ 1',
  );
  check(env.aurora.maxCapacityAcu <= 256, 'aurora.maxCapacityAcu must be ≤ 256');
  check(env.name !== 'prod' || env.aurora.minCapacityAcu >= 0.5, 'prod: aurora.minCapacityAcu must be ≥ 0.5 (no auto-pause in production)');
  check(env.name !== 'prod' || env.aurora.deletionProtection, 'prod: aurora.deletionProtection must be on');
  check(
    env.aurora.minCapacityAcu > 0 || (env.aurora.autoPauseSeconds >= 300 && env.aurora.autoPauseSeconds <= 86_400),
    'aurora.autoPauseSeconds must be 300–86400 when minCapacityAcu is 0',
  );
  for (const e of env.alarms.emails) check(EMAIL.test(e), `alarms.emails: "${e}" is not an email address`);
  for (const u of env.alarms.httpsEndpoints) check(/^https:\/\/\S+$/.test(u), `alarms.httpsEndpoints: "${u}" is not an https URL`);
  for (const x of [...env.alarms.emails, ...env.alarms.httpsEndpoints])
    check(!PLACEHOLDER.test(x), `alarms: "${x}" is a placeholder (example.com, REPLACE_ME, …), not a subscriber: give a real one`);
  check(env.account === undefined || /^\d{12}$/.test(env.account), `account "${env.account}" must be 12 digits`);
  if (problems.length > 0) throw new ConfigError(`Invalid configuration for ${env.name}:\n - ${problems.join('\n - ')}`);
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Every problem of a retention section (also used for the CLI's `--days` overrides). */
/** Days a table's rows stay before retention exports and deletes them (its policy's days). */
export function retentionDaysOf(r: RetentionConfig, table: string): number {
  const policy = r.policies.find((p) => p.table === table);
  if (!policy) throw new ConfigError(`No retention policy for table ${table}`);
  return policy.days;
}

export function retentionProblems(r: RetentionConfig): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, msg: string) => {
    if (!ok) problems.push(msg);
  };
  try {
    assertTimeZone(r.timeZone);
  } catch (e) {
    problems.push(`retention: ${(e as Error).message}`);
  }
  check(r.timeoutMinutes >= 1 && r.timeoutMinutes <= 15, 'retention.timeoutMinutes must be 1–15 (Lambda maximum)');
  check(r.staleAfterHours >= 1, 'retention.staleAfterHours must be ≥ 1');
  check(Number.isInteger(r.maxRowsPerObject) && r.maxRowsPerObject >= 1, 'retention.maxRowsPerObject must be a positive integer');
  check(Number.isInteger(r.rowGroupRows) && r.rowGroupRows >= 1, 'retention.rowGroupRows must be a positive integer');
  check(Number.isInteger(r.restoreHoldDays) && r.restoreHoldDays >= 1, 'retention.restoreHoldDays must be a positive integer');
  const seen = new Set<string>();
  for (const p of r.policies) {
    check(IDENTIFIER.test(p.table), `retention: table "${p.table}" is not a plain lower-case identifier`);
    check(!seen.has(p.table), `retention: table "${p.table}" has two policies`);
    seen.add(p.table);
    check(Number.isInteger(p.days) && p.days >= 1, `retention.${p.table}.days must be a positive integer`);
    check(p.timeColumns.length >= 1, `retention.${p.table}: at least one time column`);
    check(p.keyColumns.length >= 1, `retention.${p.table}: at least one key column`);
    for (const c of [...p.timeColumns, ...p.keyColumns])
      check(IDENTIFIER.test(c), `retention.${p.table}: column "${c}" is not an identifier`);
    check(p.timeKind === 'timestamptz' || p.timeColumns.length === 1, `retention.${p.table}: a date/month time is one column`);
  }
  return problems;
}
