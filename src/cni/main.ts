import { readFileSync } from 'node:fs';
import { ProcessRunner } from '../exec/process-runner.js';
import { decodeConfig, parseConfig } from './config.js';
import { type CniEnv, parseEnv } from './env.js';
import { CNI_ERR, CniError } from './errors.js';
import { isNamespaceFile, linkNames } from './host.js';
import { cmdAdd, cmdCheck, cmdDel, cmdGc, cmdStatus, type PluginDeps, storeFor } from './plugin.js';
import { convertResult, isSupported, LATEST, versionInfo } from './version.js';

/**
 * The CNI plugin's entry: CNI_* environment + config on stdin → result or error JSON on stdout (SPEC.md).
 * Loaded by bin/podnet.js when CNI_COMMAND is set, and the entry of the bundled plugin file; it imports no CLI
 * or lab code, so a verb starts quickly.
 */

export const defaultDeps = (): PluginDeps => ({
  runner: new ProcessRunner(),
  links: linkNames,
  isNetns: isNamespaceFile,
  store: storeFor,
  ...(process.env.PODNET_CNI_TRACE
    ? { trace: (note: string) => process.stderr.write(`podnet-cni: ${note}\n`) }
    : {}),
});

/** One invocation, without touching process state: returns what to print and the exit status. */
export async function runCni(
  envVars: NodeJS.ProcessEnv,
  stdin: string,
  deps: PluginDeps = defaultDeps(),
): Promise<{ stdout: string; exitCode: number }> {
  // Errors are reported in the configuration's version when it has one we speak, even for env errors.
  let version: string = LATEST;
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    if (typeof v === 'string' && isSupported(v)) version = v;
  } catch {
    // stdin is checked properly below
  }
  try {
    const env: CniEnv = parseEnv(envVars);
    if (env.command === 'VERSION') {
      let requested: string | undefined;
      try {
        requested = (JSON.parse(stdin) as { cniVersion?: string }).cniVersion;
      } catch {
        requested = undefined;
      }
      return { stdout: `${JSON.stringify(versionInfo(requested))}\n`, exitCode: 0 };
    }
    const raw = decodeConfig(stdin);
    const conf = parseConfig(raw);
    switch (env.command) {
      case 'ADD': {
        const result = await cmdAdd(env, conf, deps);
        return { stdout: `${JSON.stringify(convertResult(result, conf.cniVersion))}\n`, exitCode: 0 };
      }
      case 'DEL':
        await cmdDel(env, conf, deps);
        return { stdout: '', exitCode: 0 };
      case 'CHECK':
        await cmdCheck(env, conf, deps);
        return { stdout: '', exitCode: 0 };
      case 'STATUS':
        await cmdStatus(conf, deps);
        return { stdout: '', exitCode: 0 };
      case 'GC':
        await cmdGc(conf, deps);
        return { stdout: '', exitCode: 0 };
    }
  } catch (err) {
    const e =
      err instanceof CniError
        ? err
        : new CniError(CNI_ERR.IO_FAILURE, err instanceof Error ? err.message : String(err), '', {
            cause: err,
          });
    return { stdout: `${JSON.stringify(e.toJSON(version))}\n`, exitCode: 1 };
  }
}

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EAGAIN' || (e as NodeJS.ErrnoException).code === 'EOF')
      return '';
    throw e;
  }
}

/** Process entry: prints the answer on stdout and sets the exit status. */
export async function main(): Promise<void> {
  // Runtimes may exec plugins with an empty PATH; the plugin runs ip and nsenter.
  process.env.PATH ||= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const loaded = performance.now();
  const stdin = readStdin();
  if (process.env.PODNET_CNI_TRACE)
    process.stderr.write(`podnet-cni: stdin read at ${performance.now().toFixed(1)} ms\n`);
  const { stdout, exitCode } = await runCni(process.env, stdin);
  if (stdout) process.stdout.write(stdout);
  process.exitCode = exitCode;
  // PODNET_CNI_TRACE=1: where an invocation's time goes (performance.now() counts from process start).
  if (process.env.PODNET_CNI_TRACE)
    process.stderr.write(
      `podnet-cni ${process.env.CNI_COMMAND}: node start + code loaded ${loaded.toFixed(1)} ms, verb ${(performance.now() - loaded).toFixed(1)} ms\n`,
    );
  // Exit now rather than let Node tear down: everything is written (stdout/stderr to pipes and files are
  // synchronous on Linux) and no handle is left that matters; this saves the teardown on every invocation.
  process.exit(exitCode);
}
