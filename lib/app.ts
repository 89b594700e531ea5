import { type App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { alarmSubscribersFrom, assertAlarmSubscribers, getEnvironment } from './config';
import { JobsStack } from './stacks/jobs-stack';
import { StatefulStack } from './stacks/stateful-stack';

export interface BuildAppOptions {
  readonly envName: string;
  readonly account?: string;
  readonly region?: string;
  /** Run cdk-nag's AwsSolutions pack (any unacknowledged finding stops synth). @default true */
  readonly nag?: boolean;
  /** Where `DLC_ALARM_EMAILS` / `DLC_ALARM_HTTPS_ENDPOINTS` are read (after the app's context). @default process.env */
  readonly variables?: Readonly<Record<string, string | undefined>>;
}

/**
 * Builds the stacks of one environment. Staging and prod need alarm subscribers, given as context
 * (`-c alarmEmails=… -c alarmHttpsEndpoints=…`) or environment variables: without them synth fails.
 */
export function buildApp(app: App, options: BuildAppOptions) {
  // Explicit, as CDK asks: cross-stack references stay strong (the producer stack is protected).
  if (app.node.tryGetContext('@aws-cdk/core:defaultCrossStackReferences') === undefined) {
    app.node.setContext('@aws-cdk/core:defaultCrossStackReferences', 'strong');
  }
  const alarms = alarmSubscribersFrom((key) => app.node.tryGetContext(key), options.variables ?? process.env);
  const config = getEnvironment(options.envName, { account: options.account, region: options.region, alarms });
  assertAlarmSubscribers(config);
  const env = config.account || config.region ? { account: config.account, region: config.region } : undefined;
  const prefix = `Dlc-${config.name}`;
  const stateful = new StatefulStack(app, `${prefix}-Stateful`, { env, config, terminationProtection: config.retainData });
  const jobs = new JobsStack(app, `${prefix}-Jobs`, { env, config, stateful });
  Tags.of(app).add('project', 'conversation-data-lifecycle');
  Tags.of(app).add('environment', config.name);
  if (options.nag !== false) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { config, stateful, jobs };
}
