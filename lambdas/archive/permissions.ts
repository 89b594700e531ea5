/**
 * The AWS API actions the archive function's code calls (test/infra/iam.test.ts compares them with
 * its synthesized policy and with the SDK calls in its bundle, both ways).
 */
export const IAM_ACTIONS = [
  // Aurora through the Data API (lambdas/shared/sql/data-api-driver.ts), as dlc_archive
  'rds-data:BatchExecuteStatement',
  'rds-data:BeginTransaction',
  'rds-data:CommitTransaction',
  'rds-data:ExecuteStatement',
  'rds-data:RollbackTransaction',
  // the Data API reads the role's secret with the caller's credentials
  'secretsmanager:GetSecretValue',
  // run ledger: lease, run record, last run / history (lambdas/shared/ledger/dynamodb*.ts)
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
  // Valkey IAM authentication as its cache user (elasticache-iam.ts presigns `connect`)
  'elasticache:Connect',
] as const;
