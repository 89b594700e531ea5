/**
 * What a production deployment must not do: page nobody (alarm subscribers are required in staging
 * and prod, given at synth, placeholders refused), or take its data with it when the stack is
 * deleted (secrets, log groups, the analytics queues are retained in prod). Read from the
 * synthesized templates.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../../lib/app';
import { ConfigError } from '../../lib/config';
import { ALARM_SUBSCRIBERS } from '../support/alarm-subscribers';

interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}
interface TemplateJson {
  Resources: Record<string, Resource>;
  Outputs?: Record<string, { Value: unknown; Export?: { Name: string } }>;
}

/** The synthesized templates of one environment, by stack name (no cdk-nag: app.test.ts runs it). */
function synthesize(envName: 'dev' | 'prod', context: Record<string, string> = {}): Map<string, TemplateJson> {
  const app = new App({ context, outdir: mkdtempSync(join(tmpdir(), 'dlc-synth-')) });
  buildApp(app, { envName, nag: false, variables: {} });
  return new Map(app.synth().stacks.map((s) => [s.stackName, s.template as TemplateJson]));
}

const ROOT = join(__dirname, '..', '..');
const noSubscribers = /the alarms would page nobody/;

describe('alarm subscribers are given at synth, never in a file', () => {
  it.each(['staging', 'prod'])('synth of %s without subscribers fails, saying how to give them', (envName) => {
    let error: unknown;
    try {
      buildApp(new App(), { envName, variables: {} });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(noSubscribers);
    for (const part of [
      `-c env=${envName}`,
      '-c alarmEmails=',
      '-c alarmHttpsEndpoints=https://',
      'DLC_ALARM_EMAILS=',
      'DLC_ALARM_HTTPS_ENDPOINTS=',
      'comma-separated',
    ])
      expect(message).toContain(part);
  });

  /** `cdk synth -c …` runs bin/app.ts with the context in CDK_CONTEXT_JSON. */
  function synthApp(context: Record<string, string>) {
    const env: NodeJS.ProcessEnv = { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context), CDK_OUTDIR: tmpdir() };
    delete env.DLC_ALARM_EMAILS;
    delete env.DLC_ALARM_HTTPS_ENDPOINTS;
    return spawnSync(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'bin/app.ts')], {
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
  }

  it.each([
    [{ env: 'prod' }, noSubscribers],
    [{ env: 'qa' }, /^Unknown environment "qa": expected one of dev, staging, prod/],
  ])('cdk synth -c %j exits 2 with one message, not a stack trace', (context, message) => {
    const r = synthApp(context);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it.each([
    [{ alarmEmails: 'oncall@example.com' }, 'oncall@example.com'],
    [{ alarmHttpsEndpoints: 'https://events.pagerduty.com/integration/REPLACE_ME/enqueue' }, 'REPLACE_ME'],
  ])('refuses placeholder subscribers %j', (context, value) => {
    expect(() => buildApp(new App({ context }), { envName: 'prod', variables: {} })).toThrow(
      new RegExp(`"[^"]*${value}[^"]*" is a placeholder`),
    );
  });
});

describe('prod, synthesized with subscribers', () => {
  let prod: Map<string, TemplateJson>;
  let dev: Map<string, TemplateJson>;
  beforeAll(() => {
    prod = synthesize('prod', ALARM_SUBSCRIBERS);
    dev = synthesize('dev');
  });
  const all = (templates: Map<string, TemplateJson>) =>
    [...templates.entries()].flatMap(([stack, t]) => Object.entries(t.Resources).map(([id, r]) => ({ stack, id, ...r })));

  /** The SNS topic an alarm action names: a Ref in its own stack, or an export of another. */
  function topicOf(stack: string, action: unknown): { stack: string; id: string } | undefined {
    const a = action as { Ref?: string; 'Fn::ImportValue'?: string };
    if (a.Ref) return { stack, id: a.Ref };
    for (const [name, t] of prod)
      for (const o of Object.values(t.Outputs ?? {})) if (o.Export?.Name === a['Fn::ImportValue']) return topicOf(name, o.Value);
    return undefined;
  }

  it('every alarm reaches an SNS topic with at least one subscription, to the subscribers given', () => {
    const alarms = all(prod).filter((r) => r.Type === 'AWS::CloudWatch::Alarm' || r.Type === 'AWS::CloudWatch::CompositeAlarm');
    expect(alarms.length).toBeGreaterThan(0);
    const given = [...ALARM_SUBSCRIBERS.alarmEmails.split(','), ALARM_SUBSCRIBERS.alarmHttpsEndpoints].sort();
    for (const alarm of alarms) {
      const actions = (alarm.Properties?.AlarmActions as unknown[] | undefined) ?? [];
      expect({ alarm: alarm.id, paging: actions.length > 0 }).toEqual({ alarm: alarm.id, paging: true });
      for (const action of actions) {
        const topic = topicOf(alarm.stack, action);
        const resources = topic ? prod.get(topic.stack)?.Resources : undefined;
        expect(topic && resources?.[topic.id]?.Type).toBe('AWS::SNS::Topic');
        const endpoints = Object.values(resources ?? {})
          .filter((r) => r.Type === 'AWS::SNS::Subscription' && (r.Properties?.TopicArn as { Ref?: string })?.Ref === topic?.id)
          .map((r) => String(r.Properties?.Endpoint))
          .sort();
        expect(endpoints).toEqual(given);
      }
    }
  });

  /** Resources holding data or an audit trail: the database secrets, the log groups, the analytics queues and their key. */
  const kept = (templates: Map<string, TemplateJson>) =>
    all(templates).filter(
      (r) =>
        r.Type === 'AWS::SecretsManager::Secret' ||
        r.Type === 'AWS::Logs::LogGroup' ||
        (r.Type === 'AWS::SQS::Queue' && /analytics-events/.test(String(r.Properties?.QueueName))) ||
        (r.Type === 'AWS::KMS::Key' && r.Properties?.Description === 'Analytics events queue and its dead-letter queue'),
    );

  it('retains in prod the database secrets, every log group, the analytics queue, its dead-letter queue and their key', () => {
    const resources = kept(prod);
    const count = (type: string) => resources.filter((r) => r.Type === type).length;
    expect(count('AWS::SecretsManager::Secret')).toBe(9); // master + one per database role
    expect(count('AWS::SQS::Queue')).toBe(2);
    expect(count('AWS::KMS::Key')).toBe(1);
    expect(count('AWS::Logs::LogGroup')).toBeGreaterThanOrEqual(18);
    for (const r of resources)
      expect({ id: r.id, DeletionPolicy: r.DeletionPolicy, UpdateReplacePolicy: r.UpdateReplacePolicy }).toEqual({
        id: r.id,
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
      });
  });

  it('deletes them with the stack in dev (synthesized without subscribers: dev may go without)', () => {
    const resources = kept(dev);
    expect(resources.length).toBe(kept(prod).length);
    for (const r of resources)
      expect({ id: r.id, DeletionPolicy: r.DeletionPolicy, UpdateReplacePolicy: r.UpdateReplacePolicy }).toEqual({
        id: r.id,
        DeletionPolicy: 'Delete',
        UpdateReplacePolicy: 'Delete',
      });
  });
});
