import type { InvokeCommand } from '@aws-sdk/client-lambda';
import { invokeJob } from '../../local/invoke';

/** A LambdaClient double at the client boundary. */
function lambdaDouble(answers: { payload: unknown; error?: string; log?: string }[]) {
  const calls: InvokeCommand['input'][] = [];
  return {
    calls,
    send: async (cmd: InvokeCommand) => {
      calls.push(cmd.input);
      const a = answers.shift();
      if (!a) throw new Error('unexpected call');
      return {
        Payload: Buffer.from(JSON.stringify(a.payload)),
        FunctionError: a.error,
        LogResult: a.log ? Buffer.from(a.log).toString('base64') : undefined,
        $metadata: {},
      };
    },
  };
}

describe('invokeJob', () => {
  it('invokes dlc-<env>-<job> and loops on the cursor until the job is done', async () => {
    const client = lambdaDouble([
      { payload: { done: false, cursor: 'c1', processed: 10 }, log: 'START\nEND' },
      { payload: { done: false, cursor: 'c2', processed: 10 } },
      { payload: { done: true, processed: 3 } },
    ]);
    const lines: string[] = [];
    const out = await invokeJob({
      client: client as never,
      env: 'prod',
      job: 'backfill',
      payload: { mode: 'apply' },
      loop: true,
      print: (l) => lines.push(l),
    });
    expect(out).toHaveLength(3);
    expect(client.calls.map((c) => [c.FunctionName, JSON.parse(Buffer.from(c.Payload as Uint8Array).toString())])).toEqual([
      ['dlc-prod-backfill', { mode: 'apply' }],
      ['dlc-prod-backfill', { mode: 'apply', cursor: 'c1' }],
      ['dlc-prod-backfill', { mode: 'apply', cursor: 'c2' }],
    ]);
    expect(lines).toContain('  │ START');
  });

  it('turns a function error into a clear failure', async () => {
    const client = lambdaDouble([{ payload: { errorMessage: 'boom', errorType: 'Error' }, error: 'Unhandled' }]);
    await expect(
      invokeJob({ client: client as never, env: 'dev', job: 'archive', payload: {}, loop: false, print: () => {} }),
    ).rejects.toThrow('dlc-dev-archive failed (Unhandled): {"errorMessage":"boom","errorType":"Error"}');
  });
});
