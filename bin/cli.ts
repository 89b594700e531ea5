#!/usr/bin/env -S npx tsx
/**
 * Operator CLI (`npx tsx bin/cli.ts <command> --help`). Local commands run the same job functions
 * as the Lambdas, against DATABASE_URL / REDIS_URL (README "Operate"); `--env <env>` reaches the
 * deployed functions. Exit codes: 0 ok, 1 failure, 2 bad usage.
 */
import { Command, CommanderError } from 'commander';
import { UsageError } from '../local/commands/common';
import { COMMANDS } from '../local/commands/index';

export function buildProgram(): Command {
  const program = new Command('dlc')
    .description('conversation data lifecycle: operator commands')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  for (const c of COMMANDS) c.register(program);
  for (const c of program.commands) c.exitOverride().showHelpAfterError('(add --help for usage)');
  return program;
}

/** Runs the CLI and returns its exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version print and exit 0; every other commander error is bad usage
      return err.exitCode === 0 ? 0 : 2;
    }
    console.error(err instanceof Error ? err.message : err);
    return err instanceof UsageError ? 2 : 1;
  }
}

if (require.main === module) {
  void runCli(process.argv.slice(2)).then((code) => process.exit(code));
}
