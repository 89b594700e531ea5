import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { type DynamoRunLedgerOptions, DynamoRunLedgerReader, ledgerKey as pk } from './dynamodb-reader';
import type { RunLedger, RunRecord } from './types';

export type { DynamoRunLedgerOptions };

/**
 * Single-table layout: pk `job#<name>`; sk `lock` | `last` | `last_success` | `run#<startedAt>#<runId>`.
 * TTL attribute `expiresAt` (epoch seconds) on history items.
 */
export class DynamoRunLedger extends DynamoRunLedgerReader implements RunLedger {
  private readonly historyDays: number;

  constructor(options: DynamoRunLedgerOptions) {
    super(options);
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
}

const isoUtc = (s: string) => new Date(s).toISOString();
