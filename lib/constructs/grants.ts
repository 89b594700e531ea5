import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';

/** Per AWS service prefix (`rds-data`, `dynamodb`, …): the resources its actions apply to. */
export type ServiceResources = Readonly<Partial<Record<string, readonly string[] | ((action: string) => readonly string[])>>>;

/**
 * Grants a function exactly the actions its code calls (its `lambdas/<job>/permissions.ts`), each
 * on the resources given for its service: one statement per service (per resource set), no
 * wildcards added. An action whose service has no resources is a synth error, naming both.
 */
export function grantExactly(
  fn: lambda.IFunction,
  actions: readonly string[],
  resources: ServiceResources,
  /** Conditions narrowing one action (e.g. `s3:ListBucket` to some prefixes); that action gets its own statement. */
  conditions: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {},
): void {
  const byResources = new Map<string, { actions: string[]; resources: readonly string[]; conditions?: Record<string, unknown> }>();
  for (const action of actions) {
    const service = action.split(':')[0] ?? '';
    const r = resources[service];
    if (!r) throw new Error(`${fn.node.path}: no resources given for ${action} (service ${service})`);
    const list = typeof r === 'function' ? r(action) : r;
    if (list.length === 0) throw new Error(`${fn.node.path}: no resources given for ${action}`);
    const condition = conditions[action];
    const key = `${service}|${list.join('|')}${condition ? `|${action}` : ''}`;
    const entry = byResources.get(key) ?? { actions: [], resources: list, ...(condition ? { conditions: { ...condition } } : {}) };
    entry.actions.push(action);
    byResources.set(key, entry);
  }
  for (const unused of Object.keys(conditions).filter((a) => !actions.includes(a)))
    throw new Error(`${fn.node.path}: a condition for ${unused}, which is not granted`);
  for (const { actions: a, resources: r, conditions: c } of byResources.values()) {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: [...a].sort(), resources: [...r], ...(c ? { conditions: c } : {}) }));
  }
}

/** `IAM_ACTIONS` of a permissions.ts: one list, or one list per function of the folder. */
export function actionsFor(permissions: readonly string[] | Readonly<Record<string, readonly string[]>>, job: string): readonly string[] {
  if (Array.isArray(permissions)) return permissions as readonly string[];
  const list = (permissions as Readonly<Record<string, readonly string[]>>)[job];
  if (!list) throw new Error(`permissions.ts has no IAM_ACTIONS entry for ${job}`);
  return list;
}
