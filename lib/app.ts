import { type App, Tags } from 'aws-cdk-lib';
import { getEnvironment } from './config';
import { StatefulStack } from './stacks/stateful-stack';

export interface BuildAppOptions {
  readonly envName: string;
  readonly account?: string;
  readonly region?: string;
}

/** Builds the stacks of one environment. */
export function buildApp(app: App, options: BuildAppOptions) {
  const config = getEnvironment(options.envName, { account: options.account, region: options.region });
  const env = config.account || config.region ? { account: config.account, region: config.region } : undefined;
  const prefix = `Dlc-${config.name}`;
  const stateful = new StatefulStack(app, `${prefix}-Stateful`, { env, config });
  Tags.of(app).add('project', 'conversation-data-lifecycle');
  Tags.of(app).add('environment', config.name);
  return { config, stateful };
}
