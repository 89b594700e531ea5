import { DATA_API_ACTIONS, RUN_LEDGER_ACTIONS } from '../shared/permissions';

/**
 * The AWS API actions the archive function's code calls (test/infra/iam.test.ts compares them with
 * its synthesized policy and with the SDK calls in its bundle, both ways).
 */
export const IAM_ACTIONS = [
  ...DATA_API_ACTIONS,
  ...RUN_LEDGER_ACTIONS,
  // Valkey IAM authentication as its cache user (elasticache-iam.ts presigns `connect`)
  'elasticache:Connect',
] as const;
