/** The AWS API actions the aggregation function's code calls: Data API statements and transactions, the run ledger. */
export const IAM_ACTIONS = [
  'rds-data:ExecuteStatement',
  // the Data API driver's batch(): bundled with the driver, whether or not a statement uses it
  'rds-data:BatchExecuteStatement',
  'rds-data:BeginTransaction',
  'rds-data:CommitTransaction',
  'rds-data:RollbackTransaction',
  // the Data API reads the role's secret with the caller's credentials
  'secretsmanager:GetSecretValue',
  'dynamodb:PutItem',
  'dynamodb:GetItem',
  'dynamodb:Query',
  'dynamodb:DeleteItem',
] as const;
