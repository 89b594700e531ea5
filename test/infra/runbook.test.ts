/**
 * Every alarm of every environment has its runbook entry: docs/runbook.md has a section named after
 * it, its description links there, the section's first action is concrete (a command) and, for an
 * alarm of one function, about that function; every `dlc-<env>-…` name the runbook mentions exists in
 * the synthesized templates (a queue, topic, function, schedule, cache, cluster… that is really there).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../../lib/app';
import { anchorOf, RUNBOOK, runbookHeading, runbookLink } from '../../lib/constructs/runbook';
import { ALARM_SUBSCRIBERS } from '../support/alarm-subscribers';

interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
}
type Env = 'dev' | 'staging' | 'prod';
const ENVS: Env[] = ['dev', 'staging', 'prod'];

function synthesize(envName: Env): Resource[] {
  const app = new App({ context: envName === 'dev' ? {} : ALARM_SUBSCRIBERS });
  buildApp(app, { envName, nag: false, variables: {} });
  return app.synth().stacks.flatMap((s) => Object.values((s.template as { Resources: Record<string, Resource> }).Resources));
}

/** The runbook's sections: heading text (without backticks) → body, for headings naming an alarm. */
function sections(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  for (const line of markdown.split('\n')) {
    const h = /^#{2,4}\s+(.*)$/.exec(line);
    if (h) {
      const title = (h[1] ?? '').replace(/`/g, '').trim();
      current = title.startsWith('dlc-<env>-') ? title : undefined;
      if (current) {
        expect({ duplicate: out.has(current) ? current : undefined }).toEqual({ duplicate: undefined });
        out.set(current, '');
      }
    } else if (current) out.set(current, `${out.get(current)}${line}\n`);
  }
  return out;
}

/** Names a runbook may mention as `dlc-<env>-…`: what the template really has. */
function namesIn(resources: Resource[]): Set<string> {
  const names = new Set<string>();
  for (const r of resources) {
    const p = r.Properties ?? {};
    for (const key of [
      'FunctionName',
      'QueueName',
      'Name',
      'AlarmName',
      'DashboardName',
      'ServerlessCacheName',
      'DBClusterIdentifier',
      'UserId',
    ])
      if (typeof p[key] === 'string') names.add(p[key] as string);
    if (typeof p.LogGroupName === 'string') names.add((p.LogGroupName as string).replace(/^\/aws\/lambda\//, ''));
  }
  return names;
}

const runbook = readFileSync(join(__dirname, '..', '..', RUNBOOK), 'utf8');
const bySection = sections(runbook);

describe(`the runbook (${RUNBOOK}) against the synthesized templates`, () => {
  const templates = new Map(ENVS.map((e) => [e, synthesize(e)]));
  const alarmsOf = (env: Env) =>
    (templates.get(env) ?? []).filter((r) => r.Type === 'AWS::CloudWatch::Alarm' || r.Type === 'AWS::CloudWatch::CompositeAlarm');
  const functionsOf = (env: Env) =>
    (templates.get(env) ?? [])
      .filter((r) => r.Type === 'AWS::Lambda::Function' && typeof r.Properties?.FunctionName === 'string')
      .map((r) => String(r.Properties?.FunctionName).slice(`dlc-${env}-`.length));

  it.each(ENVS)('%s: every alarm has its section, and its description links to it', (env) => {
    const alarms = alarmsOf(env);
    expect(alarms.length).toBeGreaterThan(10);
    for (const a of alarms) {
      const name = String(a.Properties?.AlarmName);
      const heading = runbookHeading(env, name);
      expect({ alarm: name, section: bySection.has(heading) }).toEqual({ alarm: name, section: true });
      expect(String(a.Properties?.AlarmDescription)).toMatch(new RegExp(`${escapeRegExp(runbookLink(env, name))}$`));
      expect(runbook).toMatch(new RegExp(`^#{2,4} \`${escapeRegExp(heading)}\`$`, 'm'));
      expect(anchorOf(`\`${heading}\``)).toBe(runbookLink(env, name).split('#')[1]);
    }
  });

  it.each(ENVS)('%s: each section’s first action is a command, about its own function when the alarm is one function’s', (env) => {
    const fns = functionsOf(env);
    for (const a of alarmsOf(env)) {
      const name = String(a.Properties?.AlarmName);
      const body = bySection.get(runbookHeading(env, name)) ?? '';
      const first = /\*\*First:\*\*([\s\S]*?)(\*\*Then|$)/.exec(body)?.[1] ?? '';
      expect({ alarm: name, command: /`(npm\srun|aws\s|SELECT|redis-cli|duckdb)[^`]*`/.test(first) }).toEqual({
        alarm: name,
        command: true,
      });
      const own = /^dlc-[a-z]+-(.+)-(LambdaErrors|DurationNearTimeout|Throttles|Stale)$/.exec(name)?.[1];
      if (own && fns.includes(own)) {
        const mentioned = fns.filter((f) => new RegExp(`(^|[^\\w-])${escapeRegExp(f)}([^\\w-]|$)`).test(first.replace(/dlc-<env>-/g, '')));
        expect({ alarm: name, functions: mentioned }).toEqual({ alarm: name, functions: [own] });
      }
    }
  });

  it('names only queues, functions, schedules and other resources that exist in the templates', () => {
    const byEnv = new Map(ENVS.map((e) => [e, namesIn(templates.get(e) ?? [])]));
    const mentioned = new Set([...runbook.matchAll(/dlc-<env>-[A-Za-z0-9_-]*[A-Za-z0-9_]/g)].map((m) => m[0]));
    expect(mentioned.size).toBeGreaterThan(20);
    for (const m of mentioned) {
      // a pattern with a placeholder (`dlc-<env>-<function>`) is not a name
      if (/<(?!env>)/.test(m) || m.endsWith('-')) continue;
      const found = ENVS.filter((e) => byEnv.get(e)?.has(m.replace('<env>', e)));
      expect({ name: m, found: found.length > 0 }).toEqual({ name: m, found: true });
    }
  });

  it('has no section for an alarm that exists in no environment', () => {
    const all = new Set(ENVS.flatMap((e) => alarmsOf(e).map((a) => runbookHeading(e, String(a.Properties?.AlarmName)))));
    expect([...bySection.keys()].filter((h) => !all.has(h))).toEqual([]);
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
