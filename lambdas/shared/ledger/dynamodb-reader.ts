import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { RunLedgerReader, RunRecord } from './types';

export interface DynamoRunLedgerOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** History entries expire (DynamoDB TTL) after this many days. @default 90 */
  readonly historyDays?: number;
}

/**
 * The read side of the DynamoDB run ledger (GetItem, Query only): what the watchdog uses, so its
 * bundle — and its IAM policy — holds no write. Layout: see `DynamoRunLedger`.
 */
export class DynamoRunLedgerReader implements RunLedgerReader {
  protected readonly doc: DynamoDBDocumentClient;
  protected readonly table: string;

  constructor(options: DynamoRunLedgerOptions) {
    this.doc = DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } });
    this.table = options.tableName;
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
        ExpressionAttributeValues: { ':pk': ledgerKey(job), ':run': 'run#' },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map((i) => i.run as RunRecord);
  }

  private async get(job: string, sk: string): Promise<RunRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: ledgerKey(job), sk } }));
    return out.Item?.run as RunRecord | undefined;
  }
}

export const ledgerKey = (job: string) => `job#${job}`;
