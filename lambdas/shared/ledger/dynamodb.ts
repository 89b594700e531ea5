import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { RunLedger, RunRecord } from './types';

export interface DynamoRunLedgerOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** History entries expire (DynamoDB TTL) after this many days. @default 90 */
  readonly historyDays?: number;
}

/**
 * Single-table layout: pk `job#<name>`; sk `lock` | `last` | `last_success` | `run#<startedAt>#<runId>`.
 * TTL attribute `expiresAt` (epoch seconds) on history items.
 */
export class DynamoRunLedger implements RunLedger {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly historyDays: number;

  constructor(options: DynamoRunLedgerOptions) {
    this.doc = DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } });
    this.table = options.tableName;
    this.historyDays = options.historyDays ?? 90;
  }

  async acquire(job: string, owner: string, leaseMs: number, now = new Date()): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: pk(job), sk: 'lock', owner, leaseUntil: now.getTime() + leaseMs, takenAt: now.toISOString() },
          ConditionExpression: 'attribute_not_exists(pk) OR leaseUntil < :now OR #owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':now': now.getTime(), ':owner': owner },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException || (err as Error).name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }

  async release(job: string, owner: string): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: pk(job), sk: 'lock' },
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': owner },
        }),
      );
    } catch (err) {
      if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
    }
  }

  async record(run: RunRecord): Promise<void> {
    const base = { pk: pk(run.job), run };
    const expiresAt = Math.floor(Date.parse(run.finishedAt) / 1000) + this.historyDays * 86_400;
    await this.doc.send(
      new PutCommand({ TableName: this.table, Item: { ...base, sk: `run#${isoUtc(run.startedAt)}#${run.runId}`, expiresAt } }),
    );
    await this.doc.send(new PutCommand({ TableName: this.table, Item: { ...base, sk: 'last' } }));
    if (run.status === 'healthy') {
      await this.doc.send(new PutCommand({ TableName: this.table, Item: { ...base, sk: 'last_success' } }));
    }
  }

  lastRun(job: string): Promise<RunRecord | undefined> {
    return this.get(job, 'last');
  }

  lastSuccess(job: string): Promise<RunRecord | undefined> {
    return this.get(job, 'last_success');
  }

  async history(job: string, limit = 20): Promise<RunRecord[]> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :run)',
        ExpressionAttributeValues: { ':pk': pk(job), ':run': 'run#' },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map((i) => i.run as RunRecord);
  }

  private async get(job: string, sk: string): Promise<RunRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: pk(job), sk } }));
    return out.Item?.run as RunRecord | undefined;
  }
}

const pk = (job: string) => `job#${job}`;
const isoUtc = (s: string) => new Date(s).toISOString();
