/** A fresh run-ledger table (the stack's key schema: pk, sk) on a local DynamoDB-compatible server (dynalite). */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';

export async function createLedgerTable(endpoint: string): Promise<{ client: DynamoDBClient; tableName: string }> {
  const client = new DynamoDBClient({ endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const tableName = `ledger-${Math.random().toString(36).slice(2)}`;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
    }),
  );
  return { client, tableName };
}
