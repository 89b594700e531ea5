/** The AWS API actions the scheduled reports' code calls (test/infra/iam.test.ts compares them with its policy and bundle). */
export const IAM_ACTIONS = [
  // Aurora through the Data API (the driver module, bundled whole), as dlc_analytics_api (read-only)
  'rds-data:BatchExecuteStatement',
  'rds-data:BeginTransaction',
  'rds-data:CommitTransaction',
  'rds-data:ExecuteStatement',
  'rds-data:RollbackTransaction',
  'secretsmanager:GetSecretValue',
  // run ledger (runExclusive, and the aggregations' last successes)
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
  // reports/… objects in the SSE-KMS cold-storage bucket (S3 asks KMS for a data key as the caller)
  's3:PutObject',
  'kms:GenerateDataKey',
] as const;
