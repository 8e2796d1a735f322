import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, PodnetError } from '../errors.js';
import { labDown } from '../lab/down.js';
import { labExec } from '../lab/exec.js';
import { loadLab } from '../lab/load.js';
import { LAB_NAME } from '../lab/names.js';
import { loadSpec, readSpecFile } from '../lab/spec-source.js';
import { formatStatus, labStatus } from '../lab/status.js';
import { explainUp, labUp } from '../lab/up.js';
import { formatReport, verifyLab } from '../lab/verify.js';
import { resolveCluster } from '../model/resolve.js';
import { CHANGE_USAGE, changeCommand } from './change.js';
import { explainProxy, SERVICE_USAGE, serviceCommand } from './service.js';

const USAGE = `podnet: Kubernetes pod networking from plain Linux primitives

usage:
  podnet lab up      [--name LAB] [-f FILE] [--same-node bridge|veth] [--proxy nftables|iptables] [--cross-node none|host-gw|vxlan|ipip]
                     [--vxlan-learning unicast|multicast] [--dry-run] [-v]
  podnet lab down    [--name LAB]
  podnet lab status  [--name LAB] [--json]
  podnet lab verify  [--name LAB] [--json]
  podnet lab exec    [--name LAB] POD [-c CONTAINER] -- CMD...
  podnet lab explain [--name LAB] [-f FILE]
${SERVICE_USAGE}
${CHANGE_USAGE}
  podnet lab inspect [--name LAB] [--json]
  podnet cni install [--bin-dir DIR] [--conf-dir DIR] [--name NET] [--subnet CIDR] …  (docs/cni.md)

--name LAB   the lab's name and the prefix of everything it creates (default: podnet)
-f FILE      cluster spec (YAML or JSON; plain Kubernetes Pod documents accepted); default: the seed's cluster

exit codes: 0 ok, 1 failure, 2 bad input, 3 verify found broken paths`;

/** Usage errors are ConfigErrors of the command line: exit 2 with every problem listed. */
function usage(message: string): never {
  throw new ConfigError([{ path: 'command line', message }], 'command line');
}

export async function main(argv: string[]): Promise<void> {
  const debug = argv.includes('--debug');
  try {
    const code = await run(argv.filter((a) => a !== '--debug'));
    process.exitCode = code;
  } catch (err) {
    if (debug) console.error(err);
    else console.error(`podnet: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = err instanceof ConfigError ? 2 : 1;
    if (!(err instanceof PodnetError) && !debug)
      console.error('(unexpected error: run with --debug for the stack trace)');
  }
}

async function run(argv: string[]): Promise<number> {
  const [group, verb, ...rest] = argv;
  if (!group || group === 'help' || group === '--help' || group === '-h') {
    console.log(USAGE);
    return 0;
  }
  if (group === 'version' || group === '--version') {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    console.log(pkg.version);
    return 0;
  }
  if (group === 'cni') return (await import('../cni/install.js')).cniCommand(verb, rest);
  if (group !== 'lab') usage(`unknown command '${group}'; see podnet help`);
  const dashdash = rest.indexOf('--');
  const own = dashdash >= 0 ? rest.slice(0, dashdash) : rest;
  const tail = dashdash >= 0 ? rest.slice(dashdash + 1) : [];
  const { values, positionals } = parseArgs({
    args: own,
    allowPositionals: true,
    strict: true,
    options: {
      name: { type: 'string', default: 'podnet' },
      file: { type: 'string', short: 'f' },
      'dry-run': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      container: { type: 'string', short: 'c' },
      'same-node': { type: 'string' },
      'cross-node': { type: 'string' },
      ip: { type: 'string' },
      node: { type: 'string' },
      segment: { type: 'string' },
      label: { type: 'string', multiple: true },
      'vxlan-learning': { type: 'string' },
      verbose: { type: 'boolean', short: 'v', default: false },
      proxy: { type: 'string' },
      selector: { type: 'string' },
      port: { type: 'string' },
      'cluster-ip': { type: 'string' },
      'node-port': { type: 'string' },
      affinity: { type: 'boolean' },
      'internal-local': { type: 'boolean' },
    },
  });
  const lab = values.name;
  if (!LAB_NAME.test(lab))
    usage(
      `--name '${lab}' is not allowed: use 1-12 lower-case letters and digits, starting with a letter (it prefixes every namespace)`,
    );
  const overrides: Record<string, string> = {};
  if (values['same-node']) overrides.sameNode = values['same-node'];
  if (values['cross-node']) overrides.crossNode = values['cross-node'];
  if (values.proxy) overrides.proxy = values.proxy;
  if (values['vxlan-learning']) overrides['vxlan.learning'] = values['vxlan-learning'];

  switch (verb) {
    case 'up': {
      const { text, source } = readSpecFile(values.file);
      const spec = loadSpec(text, source, overrides);
      if (values['dry-run']) {
        process.stdout.write(await explainUp(resolveCluster(spec), lab));
        return 0;
      }
      const started = performance.now();
      const cluster = await labUp({
        lab,
        spec,
        ...(text !== undefined ? { specText: text } : {}),
        source,
        overrides,
        verbose: values.verbose,
      });
      console.log(
        `lab ${lab} is up: ${cluster.nodes.length} node(s), ${cluster.pods.length} pod(s) in ${Math.round(performance.now() - started)} ms`,
      );
      for (const p of cluster.pods)
        console.log(`  pod ${p.name.padEnd(8)} ${p.ip.toString().padEnd(15)} on ${p.node}`);
      console.log(`next: podnet lab verify${lab === 'podnet' ? '' : ` --name ${lab}`}`);
      return 0;
    }
    case 'down': {
      const r = await labDown(lab);
      console.log(
        `lab ${lab} is down: ${r.namespaces.length} namespace(s) removed, ${r.killed} process(es) stopped${r.stateRemoved ? ', state removed' : ''}`,
      );
      return 0;
    }
    case 'status': {
      const s = await labStatus(loadLab(lab));
      console.log(values.json ? JSON.stringify(s, null, 2) : formatStatus(s));
      return 0;
    }
    case 'verify': {
      const l = loadLab(lab);
      const r = await verifyLab(lab, l.cluster, l.pausePids);
      console.log(values.json ? JSON.stringify(r, null, 2) : formatReport(l.cluster, r));
      return r.failed === 0 ? 0 : 3;
    }
    case 'exec': {
      const [pod, ...extra] = positionals;
      if (!pod) usage('name the pod: podnet lab exec POD -- CMD...');
      if (extra.length) usage(`unexpected '${extra.join(' ')}': put the command after --`);
      return labExec(loadLab(lab), pod, values.container, tail);
    }
    case 'explain': {
      let l: ReturnType<typeof loadLab> | undefined;
      if (!values.file) {
        try {
          l = loadLab(lab);
        } catch {}
      }
      if (l) {
        process.stdout.write(readFileSync(l.state.path('explain.sh'), 'utf8'));
        process.stdout.write(explainProxy(lab));
        return 0;
      }
      const { text, source } = readSpecFile(values.file);
      process.stdout.write(await explainUp(resolveCluster(loadSpec(text, source, overrides)), lab));
      return 0;
    }
    case 'service':
      return serviceCommand(lab, positionals, values);
    case 'node':
    case 'pod':
      return changeCommand(verb, lab, positionals, values);
    case 'inspect':
      return (await import('./inspect.js')).inspectCommand(lab, values.json);
    default:
      usage(
        `unknown lab command '${verb ?? ''}'; one of: up, down, status, verify, exec, explain, service, node, pod, inspect`,
      );
  }
}
