import { DATA_API_ACTIONS } from '../shared/permissions';

/**
 * The AWS API actions the ingest function's code calls: one Data API statement per chunk.
 * (Reading the queue is the event source mapping's job: CDK grants it separately, with KMS Decrypt.)
 */
export const IAM_ACTIONS = [...DATA_API_ACTIONS] as const;
