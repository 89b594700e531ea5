import { DATA_API_ACTIONS } from '../shared/permissions';

/**
 * The AWS API actions the migration function's code calls (see test/infra/iam.test.ts): the Data
 * API as the master user, and GetSecretValue on the master secret (through the Data API) and on
 * each role's secret (read directly, to set the role's password). No run ledger.
 */
export const IAM_ACTIONS = [...DATA_API_ACTIONS] as const;
