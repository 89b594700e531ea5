/**
 * `npm run properties -- set --property P --time-zone ZONE [--name N]` and `npm run properties -- list
 * [--json]`: the property registry on DATABASE_URL (sql/021). A property's periods are its zone's
 * wall-clock periods; an unregistered property uses the configured zone. Changing a zone re-derives
 * the property's aggregates over the raw events still in PostgreSQL (`--no-rederive`: only record it).
 */
import type { Command } from 'commander';
import { listProperties, PropertyInputError, setProperty } from '../../lambdas/shared/properties';
import { getEnvironment } from '../../lib/config';
import { type AggregateRun, rederiveProperty } from './aggregate';
import { output, UsageError, withDatabase } from './common';

interface SetOptions {
  property: string;
  timeZone: string;
  name?: string;
  rederive: boolean;
  now?: string;
  ledgerFile: string;
  json?: boolean;
}

export function register(program: Command): void {
  const properties = program
    .command('properties')
    .description('the property registry (each property in its own time zone) on DATABASE_URL');
  properties
    .command('set')
    .description("register a property, or change its time zone or display name (a zone change re-derives the property's aggregates)")
    .requiredOption('--property <id>', 'property id')
    .requiredOption('--time-zone <zone>', 'IANA time zone (Europe/Madrid, America/Cancun, Asia/Kolkata)')
    .option('--name <name>', 'display name (kept when left out)')
    .option('--no-rederive', 'on a zone change, do not recompute the aggregates now (run `npm run aggregate` later)')
    .option('--now <iso>', 'the clock deciding which periods are closed (default: now)')
    .option('--ledger-file <path>', 'local run ledger', '.local/run-ledger.json')
    .option('--json', 'machine-readable output')
    .action((o: SetOptions) =>
      withDatabase(async (sql) => {
        let result: Awaited<ReturnType<typeof setProperty>>;
        try {
          result = await setProperty(sql, {
            propertyId: o.property,
            timeZone: o.timeZone,
            displayName: o.name,
            defaultZone: getEnvironment(process.env.ENV_NAME ?? 'dev').aggregation.timeZone,
          });
        } catch (e) {
          if (e instanceof PropertyInputError) throw new UsageError(e.message);
          throw e;
        }
        let rederived: AggregateRun[] | undefined;
        if (result.previousTimeZone && o.rederive)
          rederived = await rederiveProperty(sql, o.property, {
            now: o.now,
            ledgerFile: o.ledgerFile,
          });
        output(o.json, { ...result, ...(rederived ? { rederived } : {}) }, () => {
          const p = result.property;
          console.log(
            `${result.created ? 'Registered' : 'Updated'} ${p.propertyId}${p.displayName ? ` (${p.displayName})` : ''}: time zone ${p.timeZone}` +
              (result.previousTimeZone && !result.created ? ` (was ${result.previousTimeZone})` : ''),
          );
          if (rederived)
            for (const r of rederived)
              console.log(
                `  re-derived ${r.job}: ${r.status === 'completed' ? `${r.result.periods.length} period(s), ${r.result.rowsWritten} rows written, ${r.result.rowsZeroed} zeroed` : r.reason}`,
              );
          else if (result.previousTimeZone)
            console.log(
              `  its aggregates are still in ${result.previousTimeZone}'s periods until the next scheduled aggregations re-derive them (recorded in property_rederivations)`,
            );
        });
      }),
    );
  properties
    .command('list')
    .description('the registered properties and their zones (unregistered ones use the configured zone)')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) =>
      withDatabase(async (sql) => {
        const list = await listProperties(sql);
        const defaultZone = getEnvironment(process.env.ENV_NAME ?? 'dev').aggregation.timeZone;
        output(o.json, { defaultTimeZone: defaultZone, properties: list }, () => {
          if (list.length === 0) console.log('No property registered.');
          for (const p of list) console.log(`${p.propertyId.padEnd(24)} ${p.timeZone.padEnd(24)} ${p.displayName ?? ''}`.trimEnd());
          console.log(`Unregistered properties use ${defaultZone}.`);
        });
      }),
    );
}
