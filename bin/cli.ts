#!/usr/bin/env -S npx tsx
/**
 * Operator CLI (`npx tsx bin/cli.ts <command> --help`). Local commands run the same job functions
 * as the Lambdas, against DATABASE_URL / REDIS_URL (docs/operate.md); `--env <env>` reaches the
 * deployed functions. Exit codes: 0 ok, 1 failure, 2 bad usage.
 */
import { Command, CommanderError, Help, type Option } from 'commander';
import { ConfigError, getEnvironment } from '../lib/config';
import { UsageError } from '../local/commands/common';
import { COMMANDS } from '../local/commands/index';

export function buildProgram(): Command {
  // Set before the commands are registered: each inherits them (and may give its own hint after an error).
  const program = new Command('dlc')
    .description('conversation data lifecycle: operator commands')
    .showHelpAfterError('(add --help for usage)')
    // commander's --help says nothing of a required option: "(required)" ends its line, unless its
    // description says so already (test/unit/cli.test.ts checks every command's).
    .configureHelp({
      optionDescription(this: Help, option: Option): string {
        const text = Help.prototype.optionDescription.call(this, option);
        return option.mandatory && !option.description.includes('(required)') ? `${text} (required)` : text;
      },
    })
    .exitOverride()
    // ENV_NAME picks the settings every local command reads: a wrong one is refused before any work.
    .hook('preAction', () => {
      try {
        getEnvironment(process.env.ENV_NAME ?? 'dev');
      } catch (e) {
        throw new UsageError(`ENV_NAME: ${(e as Error).message}`);
      }
    });
  for (const c of COMMANDS) c.register(program);
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
    // A wrong value given by the operator (an option, a variable, ENV_NAME) is bad usage.
    return err instanceof UsageError || err instanceof ConfigError ? 2 : 1;
  }
}

if (require.main === module) {
  void runCli(process.argv.slice(2)).then((code) => process.exit(code));
}
