import type { Command } from 'commander';
import { soakSummary } from '../soak/report';
import { runSoak } from '../soak/soak';
import { fail, positiveInt, positiveNumber } from './common';

interface Options {
  seconds: number;
  seed?: number;
  speed: number;
  journal?: string;
  keepServices?: string;
  nemesis: boolean;
}

export function register(program: Command): void {
  program
    .command('soak')
    .description('the whole lifecycle at once under faults, checked against a journal (own PostgreSQL, Redis, S3)')
    .option('--seconds <n>', 'real seconds of workload and faults (catch-up and checks follow)', positiveInt, 60)
    .option('--seed <n>', 'seed of every random choice (replays a run)', (v) => Number.parseInt(v, 10))
    .option('--speed <hours>', 'virtual hours per real second', positiveNumber, 8)
    .option('--journal <file>', 'write the journal (one JSON object per line)')
    .option('--keep-services <file>', 'leave the servers running and write where they are to this file')
    .option('--no-nemesis', 'no faults (the workload and the jobs only)')
    .action(async (o: Options) => {
      const seed = o.seed ?? Math.floor(Math.random() * 1_000_000);
      const report = await runSoak({
        seconds: o.seconds,
        seed,
        speed: o.speed,
        journalFile: o.journal,
        keepServicesFile: o.keepServices,
        nemesis: o.nemesis,
        say: (l) => console.error(l),
      });
      for (const l of soakSummary(report)) console.log(l);
      if (!report.passed) fail();
    });
}
