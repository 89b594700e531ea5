/**
 * The AWS API actions the ingest function's code calls: one Data API statement per chunk.
 * (Reading the queue is the event source mapping's job: CDK grants it separately, with KMS Decrypt.)
 */
export const IAM_ACTIONS = [
  'rds-data:ExecuteStatement',
  // the rest of the Data API driver, bundled with it (the insert path runs one statement per chunk)
  'rds-data:BatchExecuteStatement',
  'rds-data:BeginTransaction',
  'rds-data:CommitTransaction',
  'rds-data:RollbackTransaction',
  // the Data API reads the role's secret with the caller's credentials
  'secretsmanager:GetSecretValue',
] as const;
