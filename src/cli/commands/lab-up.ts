import { defineCommand, labName, NAME_FLAG, NAME_HELP } from '../command.js';
import { OVERRIDE_FLAGS, OVERRIDE_HELP, overridesOf } from './overrides.js';

export const labUp = defineCommand({
  name: 'lab up',
  summary: 'build a lab: nodes, pods, cross-node routes and service proxies',
  help: `usage: podnet lab up [--name LAB] [-f FILE] [overrides] [--dry-run] [-v]

Builds the cluster of FILE (docs/spec.md), or the seed's default cluster, as namespaces on this machine.
Bad input is refused before anything is created (exit 2, every problem listed).

${NAME_HELP}
  -f, --file FILE        cluster spec: YAML or JSON, a Cluster document and/or Kubernetes Pods, Services,
                         EndpointSlices, Namespaces and NetworkPolicies
${OVERRIDE_HELP}
  --agents               cluster mode: etcd on a control-plane namespace and a real podnet agent per node;
                         pods are created through the CNI plugin with the conflist each agent wrote
  --datastore etcd       the agents' datastore (with --agents): etcd, or kubernetes (a real
                         kube-apiserver and kube-controller-manager; docs/kubernetes.md)
  --dry-run              print the commands, each with a one-line explanation, and create nothing
  -v, --verbose          print each command as it runs`,
  options: {
    ...NAME_FLAG,
    file: { type: 'string', short: 'f' },
    ...OVERRIDE_FLAGS,
    agents: { type: 'boolean', default: false },
    datastore: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
  },
  async run({ values }) {
    const lab = labName(values.name);
    const overrides = overridesOf(values);
    const { loadSpec, readSpecFile } = await import('../../lab/spec-source.js');
    const { text, source } = readSpecFile(values.file);
    const notes: string[] = [];
    const spec = loadSpec(text, source, overrides, [], notes);
    // Only a valid spec loads the lab code (processes, netlink, the planners): a refusal stays quick.
    const { explainUp, labUp } = await import('../../lab/up.js');
    const { resolveCluster } = await import('../../model/resolve.js');
    // On stderr, so `--dry-run > script.sh` stays a script; said before anything is built.
    for (const n of notes) console.error(`note: ${n}`);
    if (values.agents || values.datastore !== undefined) {
      const { labUpAgentsCommand } = await import('../up-agents.js');
      return labUpAgentsCommand(lab, spec, { text, source, overrides, values });
    }
    if (values['dry-run']) {
      process.stdout.write(await explainUp(resolveCluster(spec), lab));
      return 0;
    }
    const started = performance.now();
    const { progress, say } = await import('../tty.js');
    // -v prints every command on stderr; a progress line would be torn by them.
    const done = values.verbose ? () => {} : progress(`building lab ${lab}`);
    const cluster = await labUp({
      lab,
      spec,
      ...(text !== undefined ? { specText: text } : {}),
      source,
      overrides,
      verbose: values.verbose,
    }).finally(done);
    say(
      [
        `lab ${lab} is up: ${cluster.nodes.length} node(s), ${cluster.pods.length} pod(s) in ${Math.round(performance.now() - started)} ms`,
        ...cluster.pods.map((p) => `  pod ${p.name.padEnd(8)} ${p.ip.toString().padEnd(15)} on ${p.node}`),
        `next: podnet lab verify${lab === 'podnet' ? '' : ` --name ${lab}`}`,
      ].join('\n'),
    );
    return 0;
  },
});
