import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { IAM_ACTIONS as API_ACTIONS } from '../../lambdas/analytics-api/permissions';
import { IAM_ACTIONS as REPORT_ACTIONS } from '../../lambdas/reports/permissions';
import { buildApp } from '../../lib/app';
import { ALARM_SUBSCRIBERS } from '../support/alarm-subscribers';

const app = new App({ context: ALARM_SUBSCRIBERS });
const built = buildApp(app, { envName: 'prod' });
const t = Template.fromStack(built.jobs);

/** Every action granted to a function's role, across its policies. */
function actionsOf(functionName: string): string[] {
  const fns = t.findResources('AWS::Lambda::Function', { Properties: { FunctionName: functionName } });
  const [fn] = Object.values(fns) as { Properties: { Role: { 'Fn::GetAtt': [string, string] } } }[];
  const role = fn?.Properties.Role['Fn::GetAtt'][0];
  const policies = t.findResources('AWS::IAM::Policy');
  const out = new Set<string>();
  for (const p of Object.values(policies) as {
    Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: { Action: string | string[] }[] } };
  }[]) {
    if (!p.Properties.Roles.some((r) => r.Ref === role)) continue;
    for (const s of p.Properties.PolicyDocument.Statement) for (const a of [s.Action].flat()) out.add(a);
  }
  return [...out].sort();
}

describe('analytics read side (prod)', () => {
  it('the API is a Function URL with AWS_IAM auth only: no public endpoint, no API Gateway', () => {
    t.resourceCountIs('AWS::Lambda::Url', 1);
    t.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM' });
    expect(t.findResources('AWS::Lambda::Url', { Properties: { AuthType: 'NONE' } })).toEqual({});
    expect(t.findResources('AWS::Lambda::Permission', { Properties: { Principal: '*' } })).toEqual({});
    expect(Object.keys(t.findResources('AWS::ApiGateway::RestApi'))).toHaveLength(0);
  });

  it('each function is granted exactly its IAM_ACTIONS', () => {
    expect(actionsOf('dlc-prod-analytics-api')).toEqual([...API_ACTIONS].sort());
    for (const type of ['daily', 'weekly', 'monthly']) expect(actionsOf(`dlc-prod-reports-${type}`)).toEqual([...REPORT_ACTIONS].sort());
  });

  it('reports run every hour, 30 minutes after their aggregations (each property once its period has closed in its zone)', () => {
    for (const [type, cron] of [
      ['daily', 'cron(30 * * * ? *)'],
      ['weekly', 'cron(30 * * * ? *)'],
      ['monthly', 'cron(30 * * * ? *)'],
    ])
      t.hasResourceProperties('AWS::Scheduler::Schedule', {
        Name: `dlc-prod-reports-${type}`,
        ScheduleExpression: cron,
        ScheduleExpressionTimezone: 'Europe/Madrid',
        Target: Match.objectLike({ Input: JSON.stringify({ type }) }),
      });
  });

  it('reports may write only under reports/ of the cold-storage bucket', () => {
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          // GetObject: HeadObject, is the period's report already written?
          Match.objectLike({ Action: ['s3:GetObject', 's3:PutObject'], Resource: { 'Fn::Join': ['', Match.arrayWith(['/reports/*'])] } }),
        ]),
      },
    });
  });

  it('cdk-nag stays clean', () => {
    app.synth();
    for (const stack of app.node.children.filter(Stack.isStack))
      expect(Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions'))).toEqual([]);
  });
});
