import { startPostgres } from '../../local/services';

/** One private PostgreSQL 17 server for the integration run; every test file makes its own database. */
export default async function globalSetup(): Promise<void> {
  const pg = await startPostgres();
  process.env.DLC_PG_ADMIN_URL = pg.url;
  (globalThis as { __dlcPg?: typeof pg }).__dlcPg = pg;
}
