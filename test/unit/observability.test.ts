import { Metrics } from '@aws-lambda-powertools/metrics';
import { emfMetrics, NAMESPACE, publishedMetrics } from '../../lambdas/shared/observability';

/** The EMF lines Powertools writes to stdout while `act` runs. */
function emfLines(act: () => void): Record<string, unknown>[] {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    act();
  } finally {
    spy.mockRestore();
  }
  return lines
    .flatMap((l) => l.split('\n'))
    .filter((l) => l.includes('_aws'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const metricNames = (line: Record<string, unknown>) =>
  ((line._aws as { CloudWatchMetrics: { Metrics: { Name: string }[] }[] }).CloudWatchMetrics[0]?.Metrics ?? []).map((m) => m.Name);

describe('published metrics (PUBLISHED_METRICS)', () => {
  it('reads the allowed names; unset means every metric', () => {
    expect(publishedMetrics(undefined)).toBeUndefined();
    expect([...(publishedMetrics('Errors,DurationMs') ?? [])]).toEqual(['Errors', 'DurationMs']);
    expect([...(publishedMetrics('-') ?? [])]).toEqual([]);
  });

  it('publishes only the allowed metrics; the other values ride along as plain fields of the same line', () => {
    // Prepare
    const sink = emfMetrics(new Metrics({ namespace: NAMESPACE, serviceName: 'archive' }), publishedMetrics('Errors,RunsSucceeded'));
    // Act
    const [line, ...more] = emfLines(() => {
      sink.add('CheckpointsSkipped', 3);
      sink.add('Errors', 0);
      sink.add('RunsSucceeded', 1);
      sink.flush();
    });
    // Assess
    expect(more).toEqual([]);
    expect(metricNames(line ?? {}).sort()).toEqual(['Errors', 'RunsSucceeded']);
    expect(line).toMatchObject({ service: 'archive', Errors: 0, RunsSucceeded: 1, CheckpointsSkipped: '3' });
  });

  it('writes nothing when no value is allowed, and everything when no list is given', () => {
    const none = emfMetrics(new Metrics({ namespace: NAMESPACE, serviceName: 'migrate' }), publishedMetrics('-'));
    expect(
      emfLines(() => {
        none.add('RunsSkipped', 1);
        none.flush();
      }),
    ).toEqual([]);
    const all = emfMetrics(new Metrics({ namespace: NAMESPACE, serviceName: 'local' }), undefined);
    const [line] = emfLines(() => {
      all.add('RowsExported', 5);
      all.flush();
    });
    expect(metricNames(line ?? {})).toEqual(['RowsExported']);
  });
});
