import type { Command } from 'commander';
import { demo } from '../demo';

export function register(program: Command): void {
  program
    .command('demo')
    .description('the main job on embedded defaults: private PostgreSQL and Redis, sample data, one run (npm start)')
    .action(async () => {
      process.exitCode = await demo();
    });
}
