import { readFileSync } from 'node:fs';
import { loadInstalledNative } from '../exec/netlink/native.js';
import type { Runner } from '../exec/runner.js';
import { cmdCheck, cmdGc, cmdStatus } from './check-gc.js';
import { decodeConfig, parseConfig } from './config.js';
import { pluginDeps } from './deps.js';
import { type CniEnv, parseEnv } from './env.js';
import { CNI_ERR, CniError } from './errors.js';
import { writeFully } from './host.js';
import { cmdAdd, cmdDel, type PluginDeps } from './plugin.js';
import { convertResult, isSupported, LATEST, SUPPORTED_VERSIONS, versionInfo } from './version.js';

/**
 * The CNI plugin's entry: CNI_* environment + config on stdin → result or error JSON on stdout (SPEC.md).
 * Loaded by bin/podnet.js when CNI_COMMAND is set, and the entry of the bundled plugin file; it imports no CLI
 * or lab code, so a verb starts quickly. What is slow to load (child_process, net) is loaded only when a verb
 * needs it: with the native addon, ADD and DEL need neither.
 */

/** Spawns through ProcessRunner, loaded on first use (with the addon, ADD and DEL never load child_process). */
function lazyProcessRunner(): Runner {
  let runner: Runner | undefined;
  return {
    async run(cmd) {
      runner ??= new (await import('../exec/process-runner.js')).ProcessRunner();
      return runner.run(cmd);
    },
  };
}

/** The plugin process's dependencies; the native addon is the file installed beside the plugin's code. */
export function defaultDeps(env: NodeJS.ProcessEnv = process.env): PluginDeps {
  return pluginDeps({
    env,
    native: loadInstalledNative,
    write: (text) => writeFully(2, text),
    now: () => process.uptime() * 1000,
    runner: lazyProcessRunner(),
  });
}

/** The version errors are reported in: the configuration's when it has one we speak (even for env errors). */
export function errorVersion(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    if (typeof v === 'string' && isSupported(v)) return v;
  } catch {
    // stdin is checked properly by the verb
  }
  return LATEST;
}

/** One invocation, without touching process state: returns what to print and the exit status. */
export async function runCni(
  envVars: NodeJS.ProcessEnv,
  stdin: string,
  deps: PluginDeps = defaultDeps(),
): Promise<{ stdout: string; exitCode: number }> {
  const version = errorVersion(stdin);
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
        // CHECK arrived in spec 0.4.0; older configurations cannot ask for it (libcni refuses it too).
        if (SUPPORTED_VERSIONS.indexOf(conf.cniVersion) < SUPPORTED_VERSIONS.indexOf('0.4.0'))
          throw new CniError(
            CNI_ERR.INCOMPATIBLE_VERSION,
            `CHECK needs cniVersion 0.4.0 or later; the configuration says '${conf.cniVersion}'`,
          );
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
  // process.uptime(), not performance.now(): the first use of `performance` loads perf_hooks (a few ms).
  const sinceStart = () => process.uptime() * 1000;
  const loaded = sinceStart();
  const stdin = readStdin();
  const trace = process.env.PODNET_CNI_TRACE
    ? (note: string) => writeFully(2, `podnet-cni: ${sinceStart().toFixed(1)} ms: ${note}\n`)
    : undefined;
  trace?.(`code loaded at ${loaded.toFixed(1)} ms; stdin read`);
  const { stdout, exitCode } = await runCni(process.env, stdin);
  if (stdout) writeFully(1, stdout);
  process.exitCode = exitCode;
  // PODNET_CNI_TRACE=1: where an invocation's time goes (process.uptime() counts from process start).
  trace?.(
    `${process.env.CNI_COMMAND} answered: ${(sinceStart() - loaded).toFixed(1)} ms after the code was loaded`,
  );
  // Exit now rather than let Node tear down: everything is written (stdout/stderr to pipes and files are
  // synchronous on Linux) and no handle is left that matters; this saves the teardown on every invocation.
  process.exit(exitCode);
}
