import { DATA_API_ACTIONS } from '../shared/permissions';

/** The AWS API actions the analytics API's code calls (test/infra/iam.test.ts compares them with its policy and bundle). */
export const IAM_ACTIONS = [...DATA_API_ACTIONS] as const;
