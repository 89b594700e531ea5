import { DATA_API_ACTIONS } from '../shared/permissions';

/**
 * The AWS API actions each function of this folder calls (see test/infra/iam.test.ts).
 * - `watchdog` (every 15 minutes, handler.ts): reads the run ledger; no database access at all.
 * - `database-size` (database-size.ts): one statement through the Data API as dlc_watchdog; no ledger.
 *   (The Data API driver is bundled whole, so its transaction calls count as calls.)
 */
export const IAM_ACTIONS = {
  watchdog: ['dynamodb:GetItem', 'dynamodb:Query'],
  'database-size': DATA_API_ACTIONS,
} as const;
