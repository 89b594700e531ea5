/**
 * AWS actions that shared code calls, for the `permissions.ts` of every function that bundles it
 * (test/infra/iam.test.ts compares each function's list with its policy and its bundle's calls).
 */

/** The Data API driver (sql/data-api-driver.ts, bundled whole) and the secret it connects with: the Data API reads it as the caller. */
export const DATA_API_ACTIONS = [
  'rds-data:BatchExecuteStatement',
  'rds-data:BeginTransaction',
  'rds-data:CommitTransaction',
  'rds-data:ExecuteStatement',
  'rds-data:RollbackTransaction',
  'secretsmanager:GetSecretValue',
] as const;

/** The DynamoDB run ledger as `runExclusive` uses it: lease, run record, last run and history (ledger/dynamodb.ts). */
export const RUN_LEDGER_ACTIONS = ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'] as const;
