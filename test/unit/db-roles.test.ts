import { DB_ROLES, type DbRole, roleForJob, validateRoles } from '../../lambdas/shared/db-roles';

describe('database role registry', () => {
  it('is well formed: plain names, one role per job', () => {
    expect(() => validateRoles()).not.toThrow();
    expect(DB_ROLES.map((r) => r.name)).toEqual([
      'dlc_archive',
      'dlc_backfill',
      'dlc_ingest',
      'dlc_aggregate',
      'dlc_analytics_api',
      'dlc_retention',
      'dlc_privacy',
      'dlc_watchdog',
    ]);
    expect(roleForJob('archive')?.name).toBe('dlc_archive');
    expect(roleForJob('database-size')?.name).toBe('dlc_watchdog');
    expect(roleForJob('watchdog')).toBeUndefined(); // the 15-minute watchdog has no database access
    expect(roleForJob('migrate')).toBeUndefined(); // migrations run as the master user
  });

  it('only retention (export, then delete) and privacy (an erasure) delete history; the analytics API only reads, but for the property registry', () => {
    const history = ['messages', 'conversations', 'analytics_events', 'audits', 'leads', 'checkpoint_quarantine', 'archive_manifest'];
    const deleters = (DB_ROLES as readonly DbRole[])
      .filter((r) => Object.entries(r.tables).some(([t, p]) => history.includes(t) && p.includes('DELETE')))
      .map((r) => r.name);
    expect(deleters).toEqual(['dlc_retention', 'dlc_privacy']);
    const api = roleForJob('analytics-api') as DbRole;
    const { properties, property_rederivations, ...rest } = api.tables;
    expect(new Set(Object.values(rest).flat())).toEqual(new Set(['SELECT']));
    // PUT /properties/{id}: registers or updates a property, and records the re-derivations of a zone change
    expect(properties).toEqual(['SELECT', 'INSERT', 'UPDATE']);
    expect(property_rederivations).toEqual(['INSERT']);
  });

  it('refuses duplicates and malformed names, listing every problem', () => {
    const bad: DbRole[] = [
      { name: 'dlc_a', jobs: ['x'], description: '', tables: { t: [] } },
      { name: 'dlc_a', jobs: ['x'], description: '', tables: {}, functions: ['f'] },
    ];
    expect(() => validateRoles(bad)).toThrow(
      'Invalid database role registry:\n - dlc_a: table "t" lists no privilege\n - role "dlc_a" appears twice\n - job "x" has two roles\n - dlc_a: function "f" must be name(type,…)',
    );
  });
});
