/**
 * Where an alarm's runbook entry is: docs/runbook.md has one section per alarm name, its heading the
 * name with the environment written `<env>` (`dlc-<env>-archive-Stale`); every alarm description ends
 * with the link to it. test/infra/runbook.test.ts reads both from the synthesized templates.
 */
export const RUNBOOK = 'docs/runbook.md';

/** `dlc-dev-archive-Stale` → `dlc-<env>-archive-Stale`: the runbook section's heading. */
export function runbookHeading(envName: string, alarmName: string): string {
  const prefix = `dlc-${envName}-`;
  if (!alarmName.startsWith(prefix)) throw new Error(`Alarm ${alarmName} is not named dlc-${envName}-…`);
  return `dlc-<env>-${alarmName.slice(prefix.length)}`;
}

/** The anchor GitHub gives a heading: lower case, punctuation other than `-` and `_` dropped, spaces as `-`. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** `Runbook: docs/runbook.md#dlc-env-archive-stale`: the end of every alarm description. */
export function runbookLink(envName: string, alarmName: string): string {
  return `Runbook: ${RUNBOOK}#${anchorOf(runbookHeading(envName, alarmName))}`;
}
