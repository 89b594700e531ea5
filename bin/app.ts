#!/usr/bin/env node
/** CDK app entry: `cdk synth|deploy -c env=<dev|staging|prod>`. */
import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app';

const app = new App();
buildApp(app, {
  envName: app.node.tryGetContext('env') ?? 'dev',
  account: app.node.tryGetContext('account') ?? process.env.CDK_DEFAULT_ACCOUNT,
  region: app.node.tryGetContext('region') ?? process.env.CDK_DEFAULT_REGION,
});
