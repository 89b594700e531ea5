/**
 * The synthesized app as CloudFormation would deploy it, for a test that runs its Lambda bundles:
 * synth into a temporary cloud assembly (real esbuild bundling, cdk.json's context), the functions
 * read from the templates (asset folder from the asset manifest, handler, environment, timeout),
 * CloudFormation values resolved with local stand-ins for what only a deployment knows (generated
 * names, ARNs, endpoints), and one invocation of a bundle in its own Node process with a Lambda
 * context, as the Lambda runtime would call it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../../lib/app';
import { PROJECT_ROOT } from '../../lib/constructs/scheduled-job';

export const ACCOUNT = '123456789012';

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}
export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs?: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
}

export interface CloudAssembly {
  readonly outdir: string;
  /** Stack name → template. */
  readonly templates: Record<string, CfnTemplate>;
  /** Stack name → asset hash → asset folder (absolute). */
  readonly assets: Record<string, Record<string, string>>;
  readonly region: string;
  readonly synthMs: number;
  remove(): void;
}

/** `buildApp` as `cdk synth -c env=<envName>` runs it (bin/app.ts, cdk.json's context), into a temporary folder. */
export function synthesize(envName: string): CloudAssembly {
  const started = Date.now();
  const outdir = mkdtempSync(join(tmpdir(), 'dlc-cdk-out-'));
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  const app = new App({ outdir, context: { ...cdkJson.context, env: envName } });
  const { config } = buildApp(app, { envName, variables: {} });
  const assembly = app.synth();
  const templates: Record<string, CfnTemplate> = {};
  const assets: Record<string, Record<string, string>> = {};
  for (const stack of assembly.stacks) {
    templates[stack.stackName] = stack.template as CfnTemplate;
    const manifest = join(outdir, `${stack.stackName}.assets.json`);
    const files = existsSync(manifest)
      ? (JSON.parse(readFileSync(manifest, 'utf8')) as { files?: Record<string, { source: { path: string } }> }).files
      : undefined;
    assets[stack.stackName] = Object.fromEntries(Object.entries(files ?? {}).map(([hash, f]) => [hash, join(outdir, f.source.path)]));
  }
  return {
    outdir,
    templates,
    assets,
    region: config.region ?? 'eu-west-1',
    synthMs: Date.now() - started,
    remove: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

/** A deployed name or ARN for a resource the template leaves to CloudFormation (`Ref`, `Fn::GetAtt`). */
export type PhysicalValue = (stack: string, logicalId: string, resource: CfnResource, attribute?: string) => string;

/**
 * Resolves the intrinsic functions the templates use (Ref, Fn::GetAtt, Fn::Join, Fn::ImportValue,
 * Fn::Select, Fn::Split) to plain strings; anything else is refused by name, so a new kind of value
 * in a function's environment is noticed rather than passed on as an object.
 */
export function cfnResolver(assembly: CloudAssembly, physical: PhysicalValue) {
  const pseudo: Record<string, string> = {
    'AWS::AccountId': ACCOUNT,
    'AWS::Region': assembly.region,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
  };
  const resourceOf = (stack: string, id: string): CfnResource => {
    const r = assembly.templates[stack]?.Resources[id];
    if (!r) throw new Error(`${stack} has no resource ${id}`);
    return r;
  };
  const resolve = (stack: string, value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v) => resolve(stack, v));
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [key, arg] = entries[0] as [string, unknown];
      if (key === 'Ref') {
        const name = String(arg);
        if (name === 'AWS::StackName') return stack;
        return pseudo[name] ?? physical(stack, name, resourceOf(stack, name));
      }
      if (key.startsWith('Fn::')) return intrinsic(stack, key, arg);
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(stack, v)]));
  };
  const intrinsic = (stack: string, fn: string, arg: unknown): unknown => {
    switch (fn) {
      case 'Fn::GetAtt': {
        const [id, attribute] = (typeof arg === 'string' ? arg.split(/\.(.*)/s) : arg) as [string, string];
        return physical(stack, id, resourceOf(stack, id), attribute);
      }
      case 'Fn::Join': {
        const [sep, parts] = arg as [string, unknown[]];
        return (resolve(stack, parts) as unknown[]).join(sep);
      }
      case 'Fn::Select': {
        const [i, list] = arg as [unknown, unknown];
        return (resolve(stack, list) as unknown[])[Number(resolve(stack, i))];
      }
      case 'Fn::Split': {
        const [sep, text] = arg as [string, unknown];
        return String(resolve(stack, text)).split(sep);
      }
      case 'Fn::ImportValue': {
        const name = resolve(stack, arg);
        for (const [other, t] of Object.entries(assembly.templates))
          for (const o of Object.values(t.Outputs ?? {}))
            if (o.Export && resolve(other, o.Export.Name) === name) return resolve(other, o.Value);
        throw new Error(`no stack exports ${String(name)}`);
      }
      default:
        throw new Error(`${stack}: cannot resolve ${fn} here (add it to cfnResolver)`);
    }
  };
  return (stack: string, value: unknown) => resolve(stack, value);
}

/** A Lambda function of the templates, as deployed. */
export interface DeployedFunction {
  readonly stack: string;
  readonly logicalId: string;
  /** FunctionName, or the logical id when CloudFormation names it. */
  readonly name: string;
  /** The asset folder (the zip's contents). */
  readonly codeDir: string;
  /** `file.export`, as in the template. */
  readonly handler: string;
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  /** Environment.Variables as written in the template (values unresolved). */
  readonly environment: Record<string, unknown>;
}

export function lambdaFunctions(assembly: CloudAssembly): DeployedFunction[] {
  const out: DeployedFunction[] = [];
  for (const [stack, t] of Object.entries(assembly.templates)) {
    for (const [logicalId, r] of Object.entries(t.Resources)) {
      if (r.Type !== 'AWS::Lambda::Function') continue;
      const p = r.Properties ?? {};
      const code = p.Code as { S3Key?: unknown; ZipFile?: unknown } | undefined;
      const key = typeof code?.S3Key === 'string' ? code.S3Key : undefined;
      const codeDir = key ? assembly.assets[stack]?.[key.replace(/\.zip$/, '')] : undefined;
      if (!codeDir) throw new Error(`${stack}/${logicalId}: its code is not a file asset of the assembly (${JSON.stringify(code)})`);
      out.push({
        stack,
        logicalId,
        name: typeof p.FunctionName === 'string' ? p.FunctionName : logicalId,
        codeDir,
        handler: String(p.Handler),
        runtime: String(p.Runtime),
        timeoutSeconds: Number(p.Timeout ?? 3),
        memoryMb: Number(p.MemorySize ?? 128),
        environment: ((p.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<string, unknown>,
      });
    }
  }
  return out;
}

/** The logical ids of the resources of `type` in a stack whose `property` references the function (Ref or Fn::GetAtt …Arn). */
export function referencing(assembly: CloudAssembly, fn: DeployedFunction, type: string, pick: (p: Record<string, unknown>) => unknown) {
  const refs = (v: unknown): boolean =>
    JSON.stringify(v ?? null).includes(JSON.stringify({ Ref: fn.logicalId })) ||
    JSON.stringify(v ?? null).includes(`["${fn.logicalId}","Arn"]`);
  return Object.entries(assembly.templates[fn.stack]?.Resources ?? {})
    .filter(([, r]) => r.Type === type && refs(pick(r.Properties ?? {})))
    .map(([id, r]) => ({ id, properties: r.Properties ?? {} }));
}

export interface Invocation {
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
  /** What the function wrote (its logs): the tail, for a failure message. */
  readonly output: string;
  readonly ms: number;
}

/**
 * Invokes the bundle once in a fresh Node process (a cold start) with `env` as its whole
 * environment (plus PATH), the event, and a Lambda context whose remaining time counts down from
 * the function's timeout. The process is killed after `killAfterMs`.
 */
export async function invokeBundle(
  fn: DeployedFunction,
  env: Record<string, string>,
  event: unknown,
  options: { killAfterMs: number; requestId: string },
): Promise<Invocation> {
  const dot = fn.handler.lastIndexOf('.');
  const modulePath = fn.handler.slice(0, dot);
  const exportName = fn.handler.slice(dot + 1);
  const file = ['.js', '.cjs', '.mjs'].map((ext) => join(fn.codeDir, modulePath + ext)).find((f) => existsSync(f));
  if (!file) throw new Error(`${fn.name}: no ${modulePath}.js|.cjs|.mjs in ${fn.codeDir}`);
  const work = mkdtempSync(join(tmpdir(), 'dlc-invoke-'));
  const eventFile = join(work, 'event.json');
  const resultFile = join(work, 'result.json');
  writeFileSync(eventFile, JSON.stringify(event));
  const context = {
    awsRequestId: options.requestId,
    functionName: fn.name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${env.AWS_REGION}:${ACCOUNT}:function:${fn.name}`,
    memoryLimitInMB: String(fn.memoryMb),
    logGroupName: `/aws/lambda/${fn.name}`,
    logStreamName: `local/${options.requestId}`,
    callbackWaitsForEmptyEventLoop: true,
  };
  // The Lambda runtime's part: load the module (CommonJS or ES module), call the export, report its result or error.
  const runtime = `
    const fs = require('node:fs');
    const [file, exportName, eventFile, resultFile, contextJson, timeoutMs] = process.argv.slice(1);
    const end = Date.now() + Number(timeoutMs);
    const context = { ...JSON.parse(contextJson), getRemainingTimeInMillis: () => Math.max(0, end - Date.now()),
      done() {}, fail() {}, succeed() {} };
    const report = (r) => { fs.writeFileSync(resultFile, JSON.stringify(r)); process.exit(r.ok ? 0 : 1); };
    (async () => {
      const mod = await import(require('node:url').pathToFileURL(file).href);
      const handler = mod[exportName] ?? mod.default?.[exportName];
      if (typeof handler !== 'function') throw new Error(file + ' exports no function ' + exportName);
      const result = await handler(JSON.parse(fs.readFileSync(eventFile, 'utf8')), context);
      report({ ok: true, result: result === undefined ? null : result });
    })().catch((e) => report({ ok: false, error: (e && e.stack) || String(e) }));`;
  const started = Date.now();
  let output = '';
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(
      process.execPath,
      ['-e', runtime, file, exportName, eventFile, resultFile, JSON.stringify(context), String(fn.timeoutSeconds * 1000)],
      { cwd: fn.codeDir, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  const ms = Date.now() - started;
  try {
    if (!existsSync(resultFile)) return { ok: false, error: `the process exited (${code ?? 'killed'}) without a result`, output, ms };
    const r = JSON.parse(readFileSync(resultFile, 'utf8')) as { ok: boolean; result?: unknown; error?: string };
    return { ...r, output, ms };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
