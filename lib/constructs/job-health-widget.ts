import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

/**
 * Each watched job's latest health (minutes since its last success, its limit, stale, failing),
 * from the watchdog's `Job health` log lines: read when the dashboard is looked at, not a metric per job.
 */
export function jobHealthWidget(envName: string, title: string, jobs?: readonly string[]): cloudwatch.LogQueryWidget {
  return new cloudwatch.LogQueryWidget({
    title,
    logGroupNames: [`/aws/lambda/dlc-${envName}-watchdog`],
    view: cloudwatch.LogQueryVisualizationType.TABLE,
    queryLines: [
      'filter message = "Job health"',
      ...(jobs ? [`filter job in [${jobs.map((j) => `"${j}"`).join(', ')}]`] : []),
      'stats latest(minutesSinceSuccess) as minutes, latest(staleAfterMinutes) as limit, latest(stale) as stale, latest(failing) as failing by job',
      'sort job',
    ],
    width: 12,
  });
}
