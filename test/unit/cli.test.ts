import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram, runCli } from '../../bin/cli';

const ROOT = join(__dirname, '..', '..');

describe('operator CLI exit codes', () => {
  let out: jest.SpyInstance;
  let err: jest.SpyInstance;
  beforeEach(() => {
    out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    jest.spyOn(console, 'error').mockImplementation(() => {});
    process.exitCode = undefined;
  });
  afterEach(() => {
    jest.restoreAllMocks();
    process.exitCode = undefined;
  });

  it('--help lists every command and exits 0', async () => {
    expect(await runCli(['--help'])).toBe(0);
    const text = out.mock.calls.map((c) => String(c[0])).join('');
    for (const name of ['migrate', 'archive', 'backfill', 'search', 'invoke', 'demo']) expect(text).toContain(name);
  });

  it('an unknown command is bad usage (2)', async () => {
    expect(await runCli(['archvie'])).toBe(2);
    expect(err.mock.calls.map((c) => String(c[0])).join('')).toContain("unknown command 'archvie'");
  });

  it('an invalid option value is bad usage (2), naming the option', async () => {
    expect(await runCli(['archive', '--batch-size', 'many'])).toBe(2);
    expect(err.mock.calls.map((c) => String(c[0])).join('')).toContain('--batch-size');
  });

  it('a missing DATABASE_URL is bad usage (2) with an example', async () => {
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      expect(await runCli(['migrate'])).toBe(2);
      expect(console.error).toHaveBeenCalledWith(expect.stringContaining('DATABASE_URL is not set. Example:'));
    } finally {
      if (saved !== undefined) process.env.DATABASE_URL = saved;
    }
  });

  it('invoke without --env is refused before any AWS call', async () => {
    expect(await runCli(['invoke', 'archive'])).toBe(2);
    expect(await runCli(['invoke', 'archive', '--env', 'qa'])).toBe(2);
  });
});

/**
 * Issue 22, defect 6: bad usage is said up front, naming the option or variable, and exits 2; none
 * of these reaches a database or AWS (DATABASE_URL points at a closed port: reaching it would exit 1).
 */
describe('operator CLI: bad usage is caught before any work', () => {
  const saved = { ...process.env };
  let out: jest.SpyInstance;
  const stdout = () => out.mock.calls.map((c) => String(c[0])).join('');
  const stderr = () =>
    [...(process.stderr.write as unknown as jest.Mock).mock.calls, ...(console.error as unknown as jest.Mock).mock.calls]
      .map((c) => String(c[0]))
      .join('');
  beforeEach(() => {
    out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    jest.spyOn(console, 'error').mockImplementation(() => {});
    jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
      process.stdout.write(`${a.join(' ')}\n`);
    });
    process.exitCode = undefined;
    process.env.DATABASE_URL = 'postgres://nobody:secret@127.0.0.1:1/nowhere';
  });
  afterEach(() => {
    jest.restoreAllMocks();
    process.exitCode = undefined;
    process.env = { ...saved };
  });

  it.each([
    [['backfill', '--from', 'yesterday'], "option '--from <iso>' argument 'yesterday' is invalid. not a date or timestamp"],
    [['backfill', '--to', '2025-02-30'], "option '--to <iso>' argument '2025-02-30' is invalid"],
    [['backfill', '--lead', '123'], "option '--lead <id>' argument '123' is invalid. not an id: ids are UUIDs"],
    [['backfill', '--from', '2025-02-01', '--to', '2025-01-01'], '--from 2025-02-01 is not before --to 2025-01-01'],
    [['search', 'hotel', '--from', 'nope'], "option '--from <iso>' argument 'nope' is invalid"],
    [['search', '-spam'], 'dlc search -- -spam; or --query "-spam"'],
    [['search', 'hotel', '--query', 'spa'], 'Give the search text as words or as --query, not both'],
    [['search', 'hotel', '--limit', '900'], '--limit 900: at most 500 results'],
    [['search'], 'No search text: dlc search hotel "late checkout" (a text starting with "-": dlc search -- -spam, or --query "-spam")'],
    [
      ['report', '--type', 'daily', '--property', 'hotel-1', '--from', '2025-03-24', '--format', 'csv'],
      '--format csv writes a zip of CSV files: give --out FILE.zip',
    ],
    [['report', '--type', 'monthly', '--property', 'hotel-1', '--from', '2999-01-01'], 'has not closed yet'],
    [['restore', '--table', 'messages', '--from', '2025-02-30', '--to', '2025-03-01'], '--from "2025-02-30" is not a date'],
    [['restore', '--table', 'messages', '--from', '2025-03-01', '--to', '2025-01-01'], '--from 2025-03-01 is not before --to 2025-01-01'],
    [['restore', '--table', 'messages', '--from', '2025-03-01T25:00:00Z', '--to', '2025-04-01'], 'is not a date'],
    [['restore', '--table', 'nope', '--from', '2025-01-01', '--to', '2025-02-01'], 'No retention policy for table "nope"'],
    [
      ['restore', '--table', 'agg_monthly_summary', '--from', '2025-01-01', '--to', '2025-02-01', '--conversation', 'c1'],
      '--conversation filters messages, conversations, analytics_events',
    ],
    [['restore', '--table', 'messages', '--from', '2025-01-01', '--to', '2025-02-01', '--hold-days', '0'], "option '--hold-days <n>'"],
    [
      ['metrics', '--property', 'hotel-1', '--env', 'qa'],
      "option '--env <env>' argument 'qa' is invalid. Allowed choices are dev, staging, prod",
    ],
  ])('%j exits 2 naming the option, before any output or work', async (argv, message) => {
    expect(await runCli(argv)).toBe(2);
    expect(stderr()).toContain(message);
    expect(stderr()).not.toMatch(/in statement|\n\s+at /);
    expect(stdout()).toBe(''); // no banner before the refusal
  });

  it("a report of a period that has not closed names the latest closed one (today's daily report)", async () => {
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Madrid' }).format(new Date());
    expect(await runCli(['report', '--type', 'daily', '--property', 'hotel-1', '--from', today])).toBe(2);
    expect(stderr()).toMatch(
      /the daily period \S+ to \S+ \(Europe\/Madrid\) has not closed yet.*the latest closed daily period starts \d{4}-\d{2}-\d{2}/,
    );
  });

  it('DATABASE_URL that is not a postgres:// URL is bad usage naming DATABASE_URL (was: ENOTFOUND base)', async () => {
    process.env.DATABASE_URL = 'notaurl';
    expect(await runCli(['migrate'])).toBe(2);
    expect(stderr()).toContain('DATABASE_URL is not a postgres:// URL. Example: DATABASE_URL=postgres://');
    expect(stderr()).not.toContain('ENOTFOUND');
  });

  it('REDIS_URL that is not a redis:// URL is bad usage naming REDIS_URL', async () => {
    process.env.REDIS_URL = 'localhost:6379';
    expect(await runCli(['archive'])).toBe(2);
    expect(stderr()).toContain('REDIS_URL is not a redis:// URL');
  });

  it('an unknown ENV_NAME is bad usage listing the environments', async () => {
    process.env.ENV_NAME = 'qa';
    expect(await runCli(['ingest', __filename])).toBe(2);
    expect(stderr()).toContain('Unknown environment "qa": expected one of dev, staging, prod');
  });

  it.each([
    [['metrics', '--property', 'hotel-1', '--env', 'prod']],
    [['invoke', 'watchdog', '--env', 'staging']],
    [['backfill', '--dry-run', '--env', 'prod']],
  ])('%j without a region says to pass --region or set AWS_REGION (was: "Region is missing")', async (argv) => {
    for (const v of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE']) delete process.env[v];
    process.env.AWS_CONFIG_FILE = join(tmpdir(), 'dlc-no-such-aws-config');
    expect(await runCli(argv)).toBe(2);
    expect(stderr()).toContain(
      `--env ${argv.at(-1)} calls AWS, and no region is set: pass --region (e.g. --region eu-west-1) or set AWS_REGION.`,
    );
    expect(stdout()).toBe('');
  });
});

describe('prerequisite check (npm prestart / pretest)', () => {
  /** A PATH holding only node: no redis-server, no chromium. */
  function barePath(): string {
    const dir = mkdtempSync(join(tmpdir(), 'dlc-path-'));
    symlinkSync(process.execPath, join(dir, 'node'));
    return dir;
  }

  it('names a missing redis-server with its install command and exits 1', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: barePath() };
    delete env.REDIS_URL;
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/check-prereqs.cjs'), 'start'], { env, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('redis-server is not on PATH');
    expect(r.stderr).toContain('apt-get install redis-server');
  });

  it('passes when everything is there', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/check-prereqs.cjs'), 'start'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

/** Issue 22, item 10: commander's --help says nothing of a required option; ours say "(required)". */
describe('operator CLI: --help marks every required option', () => {
  const every = (c: Command): Command[] => [c, ...c.commands.flatMap(every)];
  const options = every(buildProgram()).flatMap((c) =>
    c.options.map((o) => ({ command: c.name(), flags: o.flags, required: o.mandatory, help: c.createHelp().optionDescription(o) })),
  );

  it('every required option of every command and subcommand says "(required)", once; no other option does', () => {
    const required = options.filter((o) => o.required);
    expect(required.map((o) => `${o.command} ${o.flags}`)).toEqual(
      expect.arrayContaining(['invoke --env <env>', 'restore --table <table>', 'metrics --property <id>']),
    );
    for (const o of options)
      expect(o).toEqual({
        ...o,
        help: expect.stringMatching(o.required ? /^(?!.*\(required\).*\(required\)).*\(required\)/ : /^(?!.*\(required\))/),
      });
  });

  it('shows in the printed help', async () => {
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await runCli(['invoke', '--help'])).toBe(0);
      expect(out.mock.calls.map((c) => String(c[0])).join('')).toMatch(/--env <env> +environment \(required\) \(choices: /);
    } finally {
      out.mockRestore();
    }
  });
});
