import { COLD_STORE_ACTIONS } from '../retention/permissions';
import { DATA_API_ACTIONS } from '../shared/permissions';

/**
 * Exactly the AWS API actions the privacy function's code calls (compared with its synthesized
 * policy and with the SDK calls in its bundle by test/infra/iam.test.ts). With retention (restore),
 * the only function that removes cold objects' versions.
 */
export const IAM_ACTIONS = [
  ...DATA_API_ACTIONS,
  // Valkey IAM authentication as its own cache user (the subject's live checkpoints)
  'elasticache:Connect',
  // cold objects read, rewritten without the subject, old versions removed; receipts and exports under their own prefixes
  ...COLD_STORE_ACTIONS,
] as const;
