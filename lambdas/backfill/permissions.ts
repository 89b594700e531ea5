/** The AWS API actions the backfill function's code calls (see test/infra/iam.test.ts). */
export const IAM_ACTIONS = [
  // Aurora through the Data API, as dlc_backfill
  'rds-data:BatchExecuteStatement',
  'rds-data:BeginTransaction',
  'rds-data:CommitTransaction',
  'rds-data:ExecuteStatement',
  'rds-data:RollbackTransaction',
  'secretsmanager:GetSecretValue',
  // run ledger (runExclusive)
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
] as const;
