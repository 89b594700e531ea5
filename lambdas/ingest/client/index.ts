/** What an application imports: `new AnalyticsCollector({ client: new SQSClient({}), queueUrl })`. */

export { type AnalyticsEvent, type AnalyticsEventType, EVENT_TYPES } from '../event';
export { AnalyticsCollector, type CollectorOptions, type CollectorStats, type RecordInput } from './collector';
