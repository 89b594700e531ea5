import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../bin/cli';

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
