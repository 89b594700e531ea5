/**
 * Alarm subscribers for a staging or prod synth in the tests, given as CDK context as a deployment
 * gives them (`-c alarmEmails=… -c alarmHttpsEndpoints=…`): without them synth fails.
 */
export const ALARM_SUBSCRIBERS = {
  alarmEmails: 'oncall@dlc-ops.net,lead@dlc-ops.net',
  alarmHttpsEndpoints: 'https://events.pagerduty.com/integration/0a1b2c3d4e5f60718293a4b5c6d7e8f9/enqueue',
} as const;
