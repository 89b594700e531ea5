/** `npm run subject -- … --env <env>`: the deployed privacy function does the work, called at the Lambda client boundary. */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { runCli } from '../../bin/cli';

const lambda = mockClient(LambdaClient);
const answer = (payload: unknown) => ({ Payload: Buffer.from(JSON.stringify(payload)) as never, $metadata: {} });

describe('subject --env: the deployed privacy function', () => {
  let out: string[];
  beforeEach(() => {
    lambda.reset();
    out = [];
    jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
      out.push(a.join(' '));
    });
    jest.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out.push(String(s));
      return true;
    });
    jest.spyOn(console, 'error').mockImplementation(() => {});
    process.exitCode = undefined;
  });
  afterEach(() => {
    jest.restoreAllMocks();
    process.exitCode = undefined;
  });

  const payloads = () =>
    lambda
      .commandCalls(InvokeCommand)
      .map((c) => [c.args[0].input.FunctionName, JSON.parse(Buffer.from(c.args[0].input.Payload as Uint8Array).toString())]);

  it('find, erase and verify go to dlc-<env>-privacy with the identifiers as given; the answer is printed as locally', async () => {
    lambda
      .on(InvokeCommand)
      .resolvesOnce(answer({ identifiers: 4, postgres: { messages: 3 }, redis: { searched: true, keys: [] }, cold: [], objectsRead: 0 }))
      .resolvesOnce(
        answer({
          resumed: false,
          receipt: {
            requestId: 'erasure-abc',
            postgres: { messages: 3 },
            redis: { searched: true, keysDeleted: 0 },
            cold: [],
            tombstones: 4,
            receiptKey: '_erasures/erasure-abc.json',
          },
        }),
      )
      .resolvesOnce(answer({ ok: true, remaining: { messages: 0 } }));
    expect(await runCli(['subject', 'find', '--phone', '+34 600 000 001', '--env', 'prod', '--region', 'eu-west-1'])).toBe(0);
    expect(out[0]).toBe('Found 4 identifier(s) for this subject.');
    expect(await runCli(['subject', 'erase', '--phone', '+34600000001', '--env', 'prod', '--region', 'eu-west-1'])).toBe(0);
    expect(out).toContain('Erased (request erasure-abc)');
    expect(await runCli(['subject', 'verify', 'erasure-abc', '--env', 'prod', '--region', 'eu-west-1'])).toBe(0);
    expect(out).toContain('Verified: nothing of erasure-abc remains.');
    expect(payloads()).toEqual([
      ['dlc-prod-privacy', { action: 'find', identifiers: [{ kind: 'contact', value: '+34600000001' }] }],
      ['dlc-prod-privacy', { action: 'erase', identifiers: [{ kind: 'contact', value: '+34600000001' }], dryRun: false }],
      ['dlc-prod-privacy', { action: 'verify', requestId: 'erasure-abc' }],
    ]);
  });

  it('export with --env writes the zip to the bucket and says where; without --env, --out is required (exit 2)', async () => {
    lambda.on(InvokeCommand).resolves(
      answer({
        key: '_exports/subject-1.zip',
        bytes: 123,
        findings: { identifiers: 1, postgres: {}, redis: { searched: true, keys: [] }, cold: [], objectsRead: 0 },
      }),
    );
    expect(await runCli(['subject', 'export', '--guest', 'g-1', '--env', 'staging', '--region', 'eu-west-1'])).toBe(0);
    expect(out[0]).toBe('Wrote s3 _exports/subject-1.zip (123 bytes) in the cold-storage bucket of staging');
    expect(await runCli(['subject', 'export', '--guest', 'g-1'])).toBe(2);
  });
});
