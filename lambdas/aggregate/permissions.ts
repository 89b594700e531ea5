import { DATA_API_ACTIONS, RUN_LEDGER_ACTIONS } from '../shared/permissions';

/** The AWS API actions the aggregation function's code calls: Data API statements and transactions, the run ledger. */
export const IAM_ACTIONS = [...DATA_API_ACTIONS, ...RUN_LEDGER_ACTIONS] as const;
