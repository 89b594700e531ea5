/**
 * Applies the role registry (`db-roles.ts`) to the database, after the migrations, as the master
 * user. Idempotent: creates a missing role, sets its password (from its secret in Lambda, given
 * directly locally and in tests), revokes everything, then grants exactly the registry's
 * privileges; functions lose their default EXECUTE for PUBLIC, so only the roles listed may call
 * them. Grants on objects that do not exist (yet) are skipped with a warning and reported.
 */
import { DB_ROLES, type DbRole, validateRoles } from './db-roles';
import { LOCK_KEY } from './migrate';
import { p, type Sql } from './sql/types';

export interface RoleReconciled {
  readonly role: string;
  /** Objects named by the registry that do not exist in this database (yet). */
  readonly skipped: string[];
}

/** A role's password, or null to leave it as it is (the role must then exist already). */
export type PasswordSource = (role: DbRole) => Promise<string | null>;

export async function reconcileRoles(
  sql: Sql,
  password: PasswordSource,
  options: { roles?: readonly DbRole[]; log?: (msg: string) => void } = {},
): Promise<RoleReconciled[]> {
  const roles: readonly DbRole[] = options.roles ?? DB_ROLES;
  validateRoles(roles);
  const passwords = new Map<string, string | null>();
  for (const r of roles) passwords.set(r.name, await password(r));
  const result = await sql.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [LOCK_KEY]);
    await tx.execute('REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC');
    const out: RoleReconciled[] = [];
    for (const r of roles) {
      const grants = { tables: r.tables, functions: r.functions ?? [], sequences: r.sequences ?? [] };
      const [row] = await tx.query<{ skipped: string[] }>('SELECT dlc_reconcile_role($1::text, $2::text, $3::jsonb) AS skipped', [
        p.text(r.name),
        p.text(passwords.get(r.name) ?? null),
        p.json(grants),
      ]);
      out.push({ role: r.name, skipped: row?.skipped ?? [] });
    }
    return out;
  });
  for (const r of result) {
    if (r.skipped.length > 0) options.log?.(`role ${r.role}: skipped (does not exist yet): ${r.skipped.join(', ')}`);
  }
  return result;
}
