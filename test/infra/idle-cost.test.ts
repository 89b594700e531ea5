/**
 * The idle cost of each environment, computed from its synthesized templates (lib/idle-cost.ts):
 * dev stays under 30 USD a month, and docs/deploy.md shows exactly the figures computed here — the
 * dev table, every alarm's price per environment, and each environment's total. After an intended
 * change, `UPDATE_DOCS=1 npx jest test/infra/idle-cost.test.ts` writes the new figures into the page.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../../lib/app';
import { runbookHeading } from '../../lib/constructs/runbook';
import { alarmPrices, costTable, type IdleCost, idleCost, type TemplateJson } from '../../lib/idle-cost';
import { ALARM_SUBSCRIBERS } from '../support/alarm-subscribers';

type Env = 'dev' | 'staging' | 'prod';
const ENVS: Env[] = ['dev', 'staging', 'prod'];
const DEV_TARGET_USD = 30;
const PAGE = join(__dirname, '..', '..', 'docs', 'deploy.md');

function synthesize(envName: Env): TemplateJson[] {
  const app = new App({ context: envName === 'dev' ? {} : ALARM_SUBSCRIBERS });
  buildApp(app, { envName, nag: false, variables: {} });
  return app.synth().stacks.map((s) => s.template as TemplateJson);
}

/** Every alarm name (with `<env>`), where it exists and what it costs there. */
function alarmTable(templates: Map<Env, TemplateJson[]>): string {
  const rows = new Map<string, Map<Env, number>>();
  for (const env of ENVS)
    for (const a of alarmPrices(templates.get(env) ?? [])) {
      const heading = runbookHeading(env, a.name);
      rows.set(heading, (rows.get(heading) ?? new Map()).set(env, a.usd));
    }
  const cell = (usd: number | undefined) => (usd === undefined ? '—' : usd.toFixed(2));
  return [
    '| alarm ([runbook](runbook.md)) | dev | staging | prod |',
    '| --- | ---: | ---: | ---: |',
    ...[...rows.entries()].map(([h, byEnv]) => `| \`${h}\` | ${ENVS.map((e) => cell(byEnv.get(e))).join(' | ')} |`),
    `| **alarms in all** | ${ENVS.map((e) => `**${alarmPrices(templates.get(e) ?? []).length}: ${sum(templates.get(e) ?? []).toFixed(2)}**`).join(' | ')} |`,
  ].join('\n');
}
const sum = (t: TemplateJson[]) => alarmPrices(t).reduce((n, a) => n + a.usd, 0);

function totalsTable(costs: Map<Env, IdleCost>): string {
  return ['| environment | idle USD / month |', '| --- | ---: |', ...ENVS.map((e) => `| ${e} | ${costs.get(e)?.total.toFixed(2)} |`)].join(
    '\n',
  );
}

/** The page's generated block `name`, between `<!-- name -->` and `<!-- /name -->`. */
function block(page: string, name: string): string | undefined {
  return new RegExp(`<!-- ${name} -->\\n([\\s\\S]*?)\\n<!-- /${name} -->`).exec(page)?.[1];
}

describe('idle cost, from the synthesized templates', () => {
  const templates = new Map(ENVS.map((e) => [e, synthesize(e)]));
  const costs = new Map(ENVS.map((e) => [e, idleCost(templates.get(e) ?? [])]));
  const generated: Record<string, string> = {
    'idle-cost:dev': costTable(costs.get('dev') as IdleCost),
    'idle-cost:alarms': alarmTable(templates),
    'idle-cost:totals': totalsTable(costs),
  };

  it(`keeps dev under ${DEV_TARGET_USD} USD a month with nothing to do but its schedules`, () => {
    const dev = costs.get('dev') as IdleCost;
    expect(dev.total).toBeLessThan(DEV_TARGET_USD);
    // what dev still pages for, for that price
    expect(alarmPrices(templates.get('dev') ?? []).length).toBeLessThanOrEqual(15);
    expect(dev.lines.find((l) => l.key === 'alarms')?.usd).toBeLessThan(2);
  });

  it('prices every line from the template: nothing in the dev table is a guess except the allowance it names', () => {
    const dev = costs.get('dev') as IdleCost;
    expect(dev.lines.map((l) => l.key)).toEqual([
      'alarms',
      'custom-metrics',
      'nat',
      'interface-endpoints',
      'valkey',
      'aurora-capacity',
      'aurora-storage',
      'kms',
      'secrets',
      'dashboards',
      'lambda',
      'sqs-polling',
      'logs',
      'other',
    ]);
    expect(dev.total).toBeCloseTo(
      dev.lines.reduce((n, l) => n + l.usd, 0),
      2,
    );
  });

  it('docs/deploy.md shows exactly these figures', () => {
    let page = readFileSync(PAGE, 'utf8');
    if (process.env.UPDATE_DOCS) {
      for (const [name, text] of Object.entries(generated))
        page = page.replace(new RegExp(`(<!-- ${name} -->\\n)[\\s\\S]*?(\\n<!-- /${name} -->)`), `$1${text}$2`);
      writeFileSync(PAGE, page);
    }
    for (const [name, text] of Object.entries(generated)) expect({ block: name, text: block(page, name) }).toEqual({ block: name, text });
  });
});
