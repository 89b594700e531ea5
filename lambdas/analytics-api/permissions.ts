/** The AWS API actions the analytics API's code calls (test/infra/iam.test.ts compares them with its policy and bundle). */
export const IAM_ACTIONS = [
  // Aurora through the Data API (the driver module, bundled whole), as dlc_analytics_api (read-only)
  'rds-data:BatchExecuteStatement',
  'rds-data:BeginTransaction',
  'rds-data:CommitTransaction',
  'rds-data:ExecuteStatement',
  'rds-data:RollbackTransaction',
  // the Data API reads the role's secret with the caller's credentials
  'secretsmanager:GetSecretValue',
] as const;
