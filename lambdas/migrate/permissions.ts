/**
 * The AWS API actions the migration function's code calls (see test/infra/iam.test.ts): the Data
 * API as the master user, and GetSecretValue on the master secret (through the Data API) and on
 * each role's secret (read directly, to set the role's password). No run ledger.
 */
export const IAM_ACTIONS = [
  'rds-data:BatchExecuteStatement',
  'rds-data:BeginTransaction',
  'rds-data:CommitTransaction',
  'rds-data:ExecuteStatement',
  'rds-data:RollbackTransaction',
  'secretsmanager:GetSecretValue',
] as const;
