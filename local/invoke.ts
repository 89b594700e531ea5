/**
 * Invoke a deployed job by name and environment (`npm run invoke -- <job> --env prod`), print its
 * log tail and result. With `--loop`, a job that answers `{ done: false, cursor }` (the backfill)
 * is invoked again with that cursor until it is done.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';

export interface InvokeOptions {
  readonly client: Pick<LambdaClient, 'send'>;
  readonly env: string;
  readonly job: string;
  readonly payload: Record<string, unknown>;
  readonly loop: boolean;
  readonly print: (line: string) => void;
  /** Guard against a job that never says it is done. @default 10000 */
  readonly maxInvocations?: number;
}

export class InvokeError extends Error {
  override readonly name = 'InvokeError';
}

export async function invokeJob(o: InvokeOptions): Promise<unknown[]> {
  const functionName = `dlc-${o.env}-${o.job}`;
  const results: unknown[] = [];
  let payload = o.payload;
  for (let i = 1; i <= (o.maxInvocations ?? 10_000); i++) {
    const out = await o.client.send(
      new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(payload)), LogType: 'Tail' }),
    );
    if (out.LogResult)
      for (const line of Buffer.from(out.LogResult, 'base64').toString('utf8').trimEnd().split('\n')) o.print(`  │ ${line}`);
    const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : 'null';
    let result: unknown;
    try {
      result = JSON.parse(text);
    } catch {
      result = text;
    }
    if (out.FunctionError)
      throw new InvokeError(
        `${functionName} failed (${out.FunctionError}): ${typeof result === 'string' ? result : JSON.stringify(result)}`,
      );
    results.push(result);
    o.print(`${functionName} #${i}: ${JSON.stringify(result)}`);
    const r = result as { done?: boolean; cursor?: unknown } | null;
    if (!o.loop || !r || r.done !== false || r.cursor === undefined) return results;
    payload = { ...o.payload, cursor: r.cursor };
  }
  throw new InvokeError(`${functionName} was still not done after ${o.maxInvocations ?? 10_000} invocations`);
}
