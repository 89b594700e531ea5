import { DATA_API_ACTIONS, RUN_LEDGER_ACTIONS } from '../shared/permissions';

/** The AWS API actions the backfill function's code calls (see test/infra/iam.test.ts). */
export const IAM_ACTIONS = [...DATA_API_ACTIONS, ...RUN_LEDGER_ACTIONS] as const;
