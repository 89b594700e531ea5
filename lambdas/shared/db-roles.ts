/**
 * The database roles: ONE registry read by the database side (the reconcile step the migration
 * function runs after the SQL files: `reconcileRoles`) and by the CDK (one Secrets Manager secret
 * per role; each job's Data API calls use its role's secret).
 *
 * Each role gets exactly the privileges its job's statements need; `REVOKE ALL` first, so a
 * privilege removed here is removed from the database at the next deploy. The master user runs
 * migrations only. Adding a job's role is adding an entry.
 *
 * Grants on tables or functions that do not exist (yet) are skipped with a warning, never an
 * error: a job's tables may arrive in a later migration than its registry entry.
 */

import { AGGREGATIONS } from '../aggregate/registry';

/**
 * A table privilege, or SELECT / UPDATE on some columns only (`SELECT (id, property_id)`): what a statement
 * needs to read back what it writes (`ON CONFLICT (col)`, `RETURNING col`) without reading the rest.
 */
export type TablePrivilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE' | `SELECT (${string})` | `UPDATE (${string})`;

export interface DbRole {
  /** PostgreSQL role name (lower case, `dlc_` prefix). */
  readonly name: string;
  /** The functions (`dlc-<env>-<job>`) whose Data API calls use this role's secret. */
  readonly jobs: readonly string[];
  readonly description: string;
  /** Table or view → privileges. */
  readonly tables: Readonly<Record<string, readonly TablePrivilege[]>>;
  /** Functions it may EXECUTE, with their argument types (`detect_language(text)`). */
  readonly functions?: readonly string[];
  /** Sequences it may use (identity columns need none: PostgreSQL draws their values itself). */
  readonly sequences?: readonly string[];
}

const AGGREGATES = [
  'agg_message_counts_hourly',
  'agg_response_times_hourly',
  'agg_conversation_metrics_daily',
  'agg_staff_performance_daily',
  'agg_intent_distribution_daily',
  'agg_satisfaction_weekly',
  'agg_monthly_summary',
] as const;
const ANALYTICS_VIEWS = [
  'analytics_messages_view',
  'analytics_agent_steps_view',
  'analytics_conversations_view',
  'analytics_user_daily_view',
  'analytics_platform_daily_view',
] as const;
/**
 * The dashboard's per-entity state (sql/010): kept by triggers on analytics_events, running as the
 * role that inserts or deletes the events; the triggers run the statements these functions write.
 */
const DASHBOARD_STATE = ['analytics_lifecycle_state', 'analytics_staff_state'] as const;
const DASHBOARD_STATE_FUNCTIONS = ['analytics_state_add_sql(text)', 'analytics_lifecycle_events_sql(text)'] as const;
const each = <T extends string>(names: readonly T[], privileges: readonly TablePrivilege[]) =>
  Object.fromEntries(names.map((n) => [n, privileges])) as Record<T, readonly TablePrivilege[]>;

export const DB_ROLES = [
  {
    name: 'dlc_archive',
    jobs: ['archive'],
    description:
      'Redis checkpoints → conversations and messages: upserts conversations and messages (a changed message takes its newest version; large contents appended in pieces), inserts and appends quarantine rows; deletes nothing',
    tables: {
      conversations: ['SELECT', 'INSERT', 'UPDATE'],
      messages: ['SELECT', 'INSERT', 'UPDATE'],
      checkpoint_quarantine: ['SELECT', 'INSERT', 'UPDATE'],
    },
    // note_conversation_returns: a conversation it wrote new messages into has rows in cold storage (sql/024)
    functions: ['detect_language(text)', 'note_conversation_returns(uuid[])'],
  },
  {
    name: 'dlc_backfill',
    jobs: ['backfill'],
    description:
      'audits → conversations and messages; its rollback deletes only its own rows, through SECURITY DEFINER functions (no DELETE privilege)',
    tables: {
      leads: ['SELECT'],
      audits: ['SELECT', 'INSERT'],
      conversations: ['SELECT', 'INSERT', 'UPDATE'],
      messages: ['SELECT', 'INSERT'],
      // one record per audit whose message it created (sql/022): consulted, then written with the message
      backfill_audit_messages: ['SELECT', 'INSERT'],
    },
    functions: [
      'detect_language(text)',
      'audit_message_role(text)',
      'audit_message_text(jsonb)',
      'backfill_lead_of(text)',
      'backfill_rollback_batch(uuid,uuid,uuid,timestamptz,timestamptz)',
      'backfill_forget_runs()',
    ],
  },
  {
    name: 'dlc_ingest',
    jobs: ['ingest'],
    description:
      'SQS events → analytics_events (rejected ones kept apart), late events invalidate their buckets; the insert trigger upserts the dashboard state',
    tables: {
      // ON CONFLICT (id) and RETURNING (for the late-data invalidations) read these columns back; nothing else
      analytics_events: ['INSERT', 'SELECT (event_type, id, occurred_at, property_id)'],
      ...each(DASHBOARD_STATE, ['SELECT', 'INSERT', 'UPDATE']),
      // ON CONFLICT (dedup_key): a redelivered rejection is not kept twice
      analytics_events_rejected: ['INSERT', 'SELECT (dedup_key)'],
      agg_invalidations: ['INSERT'],
      // read FOR SHARE (is this period already aggregated?): PostgreSQL wants UPDATE on the table for a row lock
      agg_watermarks: ['SELECT', 'UPDATE'],
      // a late event is judged in its property's zone (sql/021)
      properties: ['SELECT'],
    },
    // raw_horizon: is a late event's period already (partly) in cold storage? (issue 26.10)
    // ingest_horizon_holds: its insert holds the raw horizon's lock and checks the horizon is still the one it judged against (sql/029)
    functions: [
      ...DASHBOARD_STATE_FUNCTIONS,
      'raw_horizon(text)',
      'agg_period_probe(text,timestamptz,text)',
      'ingest_horizon_holds(timestamptz,jsonb)',
    ],
  },
  {
    name: 'dlc_aggregate',
    // one function per aggregation (lambdas/aggregate/registry.ts), all with this role
    jobs: ['aggregate', ...AGGREGATIONS.map((a) => a.name)],
    description: 'analytics_events → agg_* (upserts whole buckets, zeroes emptied ones: never deletes them), consumes invalidations',
    tables: {
      analytics_events: ['SELECT'],
      analytics_cost_config: ['SELECT'],
      messages: ['SELECT'],
      conversations: ['SELECT'],
      agg_invalidations: ['SELECT', 'DELETE'],
      agg_watermarks: ['SELECT', 'INSERT', 'UPDATE'],
      // each property's periods are in its zone (sql/021)
      properties: ['SELECT'],
      // a zone change's re-derivation of its table, carried out and removed by the next run (sql/025)
      property_rederivations: ['SELECT', 'DELETE'],
      analytics_token_user_daily: ['SELECT', 'INSERT', 'UPDATE'],
      analytics_token_platform_daily: ['SELECT', 'INSERT', 'UPDATE'],
      ...each(AGGREGATES, ['SELECT', 'INSERT', 'UPDATE']),
    },
    // raw_horizon: buckets whose raw events are (partly) in cold storage are not recomputed (issue 26.10)
    functions: ['raw_horizon(text)'],
  },
  {
    name: 'dlc_analytics_api',
    jobs: ['analytics-api', 'reports-daily', 'reports-weekly', 'reports-monthly'],
    description:
      'dashboard, time series, reports: read-only, except the property registry (GET/PUT /properties: a zone change records its re-derivations)',
    tables: {
      analytics_events: ['SELECT'],
      analytics_cost_config: ['SELECT'],
      ...each(AGGREGATES, ['SELECT']),
      ...each(ANALYTICS_VIEWS, ['SELECT']),
      ...each(DASHBOARD_STATE, ['SELECT']),
      // series, reports and the dashboard in the property's zone (sql/021); PUT /properties/{id} registers
      // a property or changes its zone or name (SELECT … FOR UPDATE, INSERT … ON CONFLICT DO UPDATE)
      properties: ['SELECT', 'INSERT', 'UPDATE'],
      // a zone change records one re-derivation per aggregate table, for the aggregations (sql/025)
      property_rederivations: ['INSERT'],
    },
  },
  {
    name: 'dlc_retention',
    jobs: ['retention'],
    description:
      'the only role that deletes history: export → verify → manifest → delete; restore inserts back (the triggers on analytics_events follow in the dashboard state)',
    tables: {
      analytics_events: ['SELECT', 'INSERT', 'DELETE'],
      ...each(DASHBOARD_STATE, ['SELECT', 'INSERT', 'UPDATE', 'DELETE']),
      analytics_events_rejected: ['SELECT', 'INSERT', 'DELETE'],
      checkpoint_quarantine: ['SELECT', 'INSERT', 'DELETE'],
      ...each(AGGREGATES, ['SELECT', 'INSERT', 'DELETE']),
      conversations: ['SELECT', 'INSERT', 'DELETE'],
      // UPDATE: a cold message's other version folded into its live row, previous_versions or content (sql/024, 026)
      messages: ['SELECT', 'INSERT', 'DELETE', 'UPDATE (content, metadata, role, updated_at, version_at)'],
      conversation_returns: ['SELECT', 'DELETE'],
      archive_manifest: ['SELECT', 'INSERT', 'UPDATE'],
      job_leases: ['SELECT', 'INSERT', 'UPDATE'],
      retention_holds: ['SELECT', 'INSERT'],
      archive_pending: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
      // which subjects each object holds (digests only: privacy/subject-index.ts)
      subject_index: ['SELECT', 'INSERT'],
    },
    // raw_needed_from: raw events an aggregation has yet to compute are not exported (sql/028)
    functions: [...DASHBOARD_STATE_FUNCTIONS, 'subject_digest(text, text)', 'raw_needed_from(text[])'],
  },
  {
    name: 'dlc_privacy',
    jobs: ['privacy'],
    description:
      "one person's data (GDPR): finds it, deletes the subject's rows (never anyone else's: the erasure's statements, privacy/subject.ts), records tombstones and receipts, rewrites cold objects' manifest rows",
    tables: {
      conversations: ['SELECT', 'DELETE'],
      messages: ['SELECT', 'DELETE'],
      leads: ['SELECT', 'DELETE'],
      audits: ['SELECT', 'DELETE'],
      backfill_audit_messages: ['SELECT', 'DELETE'],
      analytics_events: ['SELECT', 'DELETE'],
      ...each(DASHBOARD_STATE, ['SELECT', 'INSERT', 'UPDATE', 'DELETE']),
      analytics_events_rejected: ['SELECT', 'DELETE'],
      checkpoint_quarantine: ['SELECT', 'DELETE'],
      archive_manifest: ['SELECT', 'INSERT', 'UPDATE'],
      job_leases: ['SELECT', 'INSERT', 'UPDATE'],
      archive_pending: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
      subject_index: ['SELECT', 'INSERT', 'DELETE'],
      erasure_tombstones: ['SELECT', 'INSERT'],
      erasures: ['SELECT', 'INSERT', 'UPDATE'],
    },
    functions: [...DASHBOARD_STATE_FUNCTIONS, 'subject_digest(text, text)'],
  },
  {
    name: 'dlc_watchdog',
    jobs: ['database-size'],
    description: 'pg_database_size(current_database()) only: no table at all',
    tables: {},
  },
] as const satisfies readonly DbRole[];

export type DbRoleName = (typeof DB_ROLES)[number]['name'];

/** The role a function connects as, or undefined (no database access; the migration function uses the master user). */
export function roleForJob(job: string): DbRole | undefined {
  return (DB_ROLES as readonly DbRole[]).find((r) => r.jobs.includes(job));
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
/** The privileges `dlc_reconcile_role` grants (sql/013): the same pattern on both sides. */
export const PRIVILEGE = /^(SELECT|INSERT|UPDATE|DELETE|(SELECT|UPDATE) \([a-z_][a-z0-9_]*(, [a-z_][a-z0-9_]*)*\))$/;
const FUNCTION_SIGNATURE = /^[a-z_][a-z0-9_]*\(([a-z ]+(\[\])?(,[a-z ]+(\[\])?)*)?\)$/;

/** Refuses a malformed registry (run by the reconcile step and by a unit test). */
export function validateRoles(roles: readonly DbRole[] = DB_ROLES): void {
  const problems: string[] = [];
  const names = new Set<string>();
  const jobs = new Set<string>();
  for (const r of roles) {
    if (!IDENT.test(r.name) || !r.name.startsWith('dlc_')) problems.push(`role "${r.name}" must match dlc_[a-z0-9_]+`);
    if (names.has(r.name)) problems.push(`role "${r.name}" appears twice`);
    names.add(r.name);
    for (const j of r.jobs) {
      if (jobs.has(j)) problems.push(`job "${j}" has two roles`);
      jobs.add(j);
    }
    for (const [t, privs] of Object.entries(r.tables)) {
      if (!IDENT.test(t)) problems.push(`${r.name}: table "${t}" is not a plain identifier`);
      if (privs.length === 0) problems.push(`${r.name}: table "${t}" lists no privilege`);
      for (const p of privs)
        if (!PRIVILEGE.test(p))
          problems.push(`${r.name}: privilege "${p}" on "${t}" is not SELECT|INSERT|UPDATE|DELETE or SELECT|UPDATE (col, …)`);
    }
    for (const f of r.functions ?? []) if (!FUNCTION_SIGNATURE.test(f)) problems.push(`${r.name}: function "${f}" must be name(type,…)`);
    for (const s of r.sequences ?? []) if (!IDENT.test(s)) problems.push(`${r.name}: sequence "${s}" is not a plain identifier`);
  }
  if (problems.length) throw new RangeError(`Invalid database role registry:\n - ${problems.join('\n - ')}`);
}
