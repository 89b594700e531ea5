/**
 * The AWS API actions the ingest function's code calls: one Data API statement per chunk.
 * (Reading the queue is the event source mapping's job: CDK grants it separately, with KMS Decrypt.)
 */
export const IAM_ACTIONS = [
  'rds-data:ExecuteStatement',
  // the Data API reads the role's secret with the caller's credentials
  'secretsmanager:GetSecretValue',
] as const;
