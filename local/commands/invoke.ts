import { type Command, Option } from 'commander';
import { ENVIRONMENT_NAMES } from '../../lib/config';
import { invokeJob } from '../invoke';
import { jsonObject, lambdaClient, output } from './common';

interface Options {
  env: string;
  payload: Record<string, unknown>;
  loop?: boolean;
  region?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('invoke')
    .description('invoke a deployed job and print its log tail and result')
    .argument('<job>', 'job name, e.g. archive, backfill, watchdog')
    .addOption(new Option('--env <env>', 'environment (required)').choices(ENVIRONMENT_NAMES).makeOptionMandatory())
    .option('--payload <json>', 'JSON payload', jsonObject, {})
    .option('--loop', 'invoke again with the returned cursor until done')
    .option('--region <region>', 'AWS region (default AWS_REGION)')
    .option('--json', 'machine-readable output: the results only')
    .action(async (job: string, o: Options) => {
      const results = await invokeJob({
        client: await lambdaClient(o),
        env: o.env,
        job,
        payload: o.payload,
        loop: o.loop ?? false,
        print: o.json ? () => {} : (l) => console.log(l),
      });
      output(o.json, results, () => {});
    });
}
