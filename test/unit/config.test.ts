import { loadRuntimeConfig } from '../../lambdas/shared/deps';
import {
  alarmSubscribersFrom,
  archiveChanceProblems,
  assertAlarmSubscribers,
  ConfigError,
  ENVIRONMENTS,
  getEnvironment,
  validateEnvironment,
} from '../../lib/config';

describe('environment config', () => {
  it('lists the valid names for an unknown environment', () => {
    expect(() => getEnvironment('production')).toThrow('Unknown environment "production": expected one of dev, staging, prod');
  });

  it('keeps seed 000 settings and the retention defaults of DESIGN.md', () => {
    const dev = getEnvironment('dev');
    expect(dev.archive).toMatchObject({ cutoffHours: 23, checkpointTtlHours: 24, retryAttempts: 2, retryDelayMs: 5000 });
    const days = Object.fromEntries(dev.retention.policies.map((p) => [p.table, p.days]));
    expect(days).toMatchObject({
      messages: 180,
      conversations: 180,
      analytics_events: 90,
      agg_message_counts_hourly: 30,
      agg_conversation_metrics_daily: 365,
      agg_satisfaction_weekly: 730,
      agg_monthly_summary: 1095,
    });
    expect(days).not.toHaveProperty('audits');
    expect(days).not.toHaveProperty('leads');
    expect(dev.aggregation.jobs).toHaveLength(7);
    expect(dev.aurora.minCapacityAcu).toBe(0);
    expect(getEnvironment('prod').aurora.minCapacityAcu).toBeGreaterThanOrEqual(0.5);
  });

  it("runs the archive every 15 minutes, not seed 000's hourly: four runs in a thread's last hour, and the stale alarm pages before a thread can expire", () => {
    for (const env of Object.values(ENVIRONMENTS)) {
      expect(env.archive.schedule).toEqual({ cron: 'cron(0/15 * * * ? *)', timeZone: 'Europe/Madrid' });
      expect(env.archive.staleAfterMinutes).toBe(40);
      expect(archiveChanceProblems(env.archive)).toEqual([]);
    }
  });

  it.each([
    [
      "seed 000's hourly runs: one chance in the due hour",
      { schedule: { cron: 'cron(0 * * * ? *)', timeZone: 'Europe/Madrid' } },
      /1 run\(s\) in that window, at least 3 needed/,
    ],
    [
      'every 30 min: two chances',
      { schedule: { cron: 'cron(0/30 * * * ? *)', timeZone: 'Europe/Madrid' } },
      /as little as every 30 min: 2 run\(s\)/,
    ],
    // a schedule that skips local hour 23 leaves a 75-minute gap every night
    [
      'every 15 min but not at 23 h (local)',
      { schedule: { cron: 'cron(0/15 0-22 * * ? *)', timeZone: 'Europe/Madrid' } },
      /every 75 min: 0 run\(s\)/,
    ],
    [
      "seed 000's 90-minute stale alarm with 15-minute runs: pages after the TTL took threads",
      { staleAfterMinutes: 90 },
      /staleAfterMinutes \(90\) must be at most 45/,
    ],
  ])('refuses an archive that a failed run could make lose messages: %s', (_name, over, message) => {
    const archive = { ...ENVIRONMENTS.prod.archive, ...over };
    const problems = archiveChanceProblems(archive);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
    expect(() => validateEnvironment({ ...ENVIRONMENTS.prod, archive })).toThrow(ConfigError);
  });

  it('accepts an hourly archive whose cutoff leaves it four chances (20 h of a 24 h TTL)', () => {
    const archive = {
      ...ENVIRONMENTS.prod.archive,
      schedule: { cron: 'cron(0 * * * ? *)', timeZone: 'Europe/Madrid' },
      cutoffHours: 20,
      staleAfterMinutes: 90,
    };
    expect(archiveChanceProblems(archive)).toEqual([]);
  });

  it('reports every problem at once', () => {
    const bad = {
      ...ENVIRONMENTS.prod,
      archive: { ...ENVIRONMENTS.prod.archive, cutoffHours: 25, schedule: { cron: '0 * * * *', timeZone: 'Mars/Base' } },
      aurora: { ...ENVIRONMENTS.prod.aurora, minCapacityAcu: 0 },
      alarms: { required: true, emails: ['not-an-email'], httpsEndpoints: ['http://insecure'] },
    };
    let error: unknown;
    try {
      validateEnvironment(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const msg = (error as Error).message;
    for (const part of [
      'cutoffHours',
      'is not an EventBridge cron',
      'Unknown time zone "Mars/Base"',
      'prod: aurora.minCapacityAcu',
      'not-an-email',
      'http://insecure',
    ]) {
      expect(msg).toContain(part);
    }
  });
});

describe('runtime config', () => {
  it('fails fast listing each missing setting of the Data API driver', () => {
    expect(() => loadRuntimeConfig({ ENV_NAME: 'prod', DB_DRIVER: 'data-api' })).toThrow(
      /DB_CLUSTER_ARN[\s\S]*DB_SECRET_ARN[\s\S]*DB_NAME/,
    );
  });

  it('picks the Data API when a cluster ARN is given and DynamoDB when a table is', () => {
    const cfg = loadRuntimeConfig({
      ENV_NAME: 'staging',
      DB_CLUSTER_ARN: 'arn:aws:rds:eu-west-1:1:cluster:c',
      DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:s',
      DB_NAME: 'conversations',
      LEDGER_TABLE: 'ledger',
    });
    expect(cfg.sql.driver).toBe('data-api');
    expect(cfg.ledger).toEqual({ kind: 'dynamodb', table: 'ledger' });
    expect(cfg.env.name).toBe('staging');
  });

  it('refuses a non-postgres DATABASE_URL', () => {
    expect(() => loadRuntimeConfig({ DATABASE_URL: 'mysql://x' })).toThrow('DATABASE_URL must be a postgres:// URL');
  });
});

describe('alarm subscribers (given per deployment, never in lib/config.ts)', () => {
  const none = () => undefined;

  it('keeps no subscriber in the file: staging and prod require them, dev may go without', () => {
    for (const name of ['dev', 'staging', 'prod'] as const) {
      expect(ENVIRONMENTS[name].alarms).toMatchObject({ emails: [], httpsEndpoints: [] });
      expect(ENVIRONMENTS[name].alarms.required).toBe(name !== 'dev');
    }
    expect(() => assertAlarmSubscribers(getEnvironment('dev'))).not.toThrow();
  });

  it('reads comma-separated context first, then DLC_ALARM_EMAILS / DLC_ALARM_HTTPS_ENDPOINTS', () => {
    const context = (key: string) => ({ alarmEmails: ' a@acme.io, b@acme.io ,' })[key as 'alarmEmails'];
    const vars = { DLC_ALARM_EMAILS: 'ignored@acme.io', DLC_ALARM_HTTPS_ENDPOINTS: 'https://pager.acme.io/hook,https://chat.acme.io/x' };
    expect(alarmSubscribersFrom(context, vars)).toEqual({
      emails: ['a@acme.io', 'b@acme.io'],
      httpsEndpoints: ['https://pager.acme.io/hook', 'https://chat.acme.io/x'],
    });
    expect(alarmSubscribersFrom(() => ['x@acme.io'], {})).toEqual({ emails: ['x@acme.io'], httpsEndpoints: ['x@acme.io'] });
    expect(alarmSubscribersFrom(none, {})).toEqual({ emails: [], httpsEndpoints: [] });
  });

  it('prod without a subscriber fails saying how to give them (context or environment variables)', () => {
    const prod = getEnvironment('prod', { alarms: alarmSubscribersFrom(none, {}) });
    expect(() => assertAlarmSubscribers(prod)).toThrow(ConfigError);
    let message = '';
    try {
      assertAlarmSubscribers(prod);
    } catch (e) {
      message = (e as Error).message;
    }
    for (const part of [
      'prod: the alarms would page nobody',
      '-c alarmEmails=',
      '-c alarmHttpsEndpoints=https://',
      'DLC_ALARM_EMAILS=',
      'DLC_ALARM_HTTPS_ENDPOINTS=',
    ])
      expect(message).toContain(part);
    expect(() =>
      assertAlarmSubscribers(getEnvironment('prod', { alarms: { emails: [], httpsEndpoints: ['https://pager.acme.io/h'] } })),
    ).not.toThrow();
  });

  it.each([
    ['oncall@example.com', 'emails'],
    ['ops@alerts.example.org', 'emails'],
    ['oncall@acme.invalid', 'emails'],
    ['https://events.pagerduty.com/integration/REPLACE_ME/enqueue', 'httpsEndpoints'],
    ['https://example.com/hook', 'httpsEndpoints'],
    ['https://<your-pager-endpoint>', 'httpsEndpoints'],
  ])('refuses the placeholder %s', (value, kind) => {
    const alarms = { emails: [] as string[], httpsEndpoints: [] as string[], [kind]: [value] };
    expect(() => getEnvironment('prod', { alarms })).toThrow(`alarms: "${value}" is a placeholder`);
  });
});
