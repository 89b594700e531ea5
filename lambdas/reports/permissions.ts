import { DATA_API_ACTIONS, RUN_LEDGER_ACTIONS } from '../shared/permissions';

/** The AWS API actions the scheduled reports' code calls (test/infra/iam.test.ts compares them with its policy and bundle). */
export const IAM_ACTIONS = [
  ...DATA_API_ACTIONS,
  ...RUN_LEDGER_ACTIONS,
  // reports/… objects in the SSE-KMS cold-storage bucket (S3 asks KMS for a data key as the caller)
  's3:PutObject',
  // HeadObject: a report already written for the period is not written again (the hourly runs)
  's3:GetObject',
  'kms:GenerateDataKey',
] as const;
