import { ENVIRONMENTS, validateEnvironment } from '../../lib/config';

const minutesOf = (cron: string) => {
  const [min, hour] = cron.replace(/^cron\(|\)$/g, '').split(/\s+/);
  return Number(hour) * 60 + Number(min);
};

describe('analytics serving settings', () => {
  it('each report runs 30 minutes after the latest aggregation of its granularity, in the same zone', () => {
    for (const env of Object.values(ENVIRONMENTS)) {
      for (const r of env.analyticsServing.reportSchedules) {
        const own = env.aggregation.jobs.filter((j) => j.granularity === r.type);
        expect(own.length).toBeGreaterThan(0);
        expect(minutesOf(r.schedule.cron)).toBe(Math.max(...own.map((j) => minutesOf(j.schedule.cron))) + 30);
        expect(r.schedule.timeZone).toBe(env.aggregation.timeZone);
        for (const j of own) expect(r.after).toContain(j.name);
      }
    }
  });

  it('refuses a report that waits for an aggregation that does not exist, and absurd limits', () => {
    const dev = ENVIRONMENTS.dev;
    const bad = {
      ...dev,
      analyticsServing: {
        ...dev.analyticsServing,
        maxPoints: 0,
        reportSchedules: [
          { ...(dev.analyticsServing.reportSchedules[0] as (typeof dev.analyticsServing.reportSchedules)[number]), after: ['dialy_typo'] },
        ],
      },
    };
    expect(() => validateEnvironment(bad)).toThrow(/reports-daily: "dialy_typo" is not an aggregation job/);
    expect(() => validateEnvironment(bad)).toThrow(/analyticsServing.maxPoints must be 1–100000/);
  });
});
