/**
 * The CLI's commands: one module each, registered here once. A new command is a new module
 * exporting `register(program)` and a line in this list (plus its npm script).
 */
import type { Command } from 'commander';
import * as aggregate from './aggregate';
import * as archive from './archive';
import * as backfill from './backfill';
import * as demo from './demo';
import * as ingest from './ingest';
import * as invoke from './invoke';
import * as metrics from './metrics';
import * as migrate from './migrate';
import * as properties from './properties';
import * as report from './report';
import * as restore from './restore';
import * as retention from './retention';
import * as search from './search';
import * as soak from './soak';
import * as subject from './subject';
import * as timeseries from './timeseries';

export const COMMANDS: readonly { register(program: Command): void }[] = [
  migrate,
  archive,
  backfill,
  search,
  retention,
  restore,
  invoke,
  metrics,
  timeseries,
  report,
  demo,
  ingest,
  aggregate,
  properties,
  subject,
  soak,
];
