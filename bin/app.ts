#!/usr/bin/env node
/**
 * CDK app entry: `cdk synth|deploy -c env=<dev|staging|prod>`; staging and prod also need
 * `-c alarmEmails=… -c alarmHttpsEndpoints=…` (or DLC_ALARM_EMAILS / DLC_ALARM_HTTPS_ENDPOINTS).
 */
import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app';
import { ConfigError } from '../lib/config';

const app = new App();
try {
  buildApp(app, {
    envName: app.node.tryGetContext('env') ?? 'dev',
    account: app.node.tryGetContext('account') ?? process.env.CDK_DEFAULT_ACCOUNT,
    region: app.node.tryGetContext('region') ?? process.env.CDK_DEFAULT_REGION,
  });
} catch (err) {
  // A configuration problem is the operator's to fix (bad usage, as in the CLI): its message, not a stack trace.
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(2);
}
