import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../lib/app';

describe('CDK app', () => {
  it('refuses an unknown environment with the valid names', () => {
    expect(() => buildApp(new App(), { envName: 'qa' })).toThrow('Unknown environment "qa": expected one of dev, staging, prod');
  });

  it('has an on-demand run ledger with point-in-time recovery and TTL', () => {
    const { stateful } = buildApp(new App(), { envName: 'dev' });
    Template.fromStack(stateful).hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      Replicas: [{ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }],
    });
  });
});
