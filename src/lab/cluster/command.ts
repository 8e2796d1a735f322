import { usage } from '../../cli/command.js';
import type { ClusterSpec } from '../../model/cluster.js';
import { labUpAgents } from './up.js';

/** `lab up --agents [--datastore etcd]`: checks the flags, builds the lab, prints what it made. */
export async function labUpAgentsCommand(
  lab: string,
  spec: ClusterSpec,
  o: {
    text: string | undefined;
    source: string;
    overrides: Record<string, string>;
    values: { agents?: boolean; datastore?: string; 'dry-run'?: boolean; verbose?: boolean };
  },
): Promise<number> {
  if (!o.values.agents) usage('--datastore goes with --agents');
  if ((o.values.datastore ?? 'etcd') !== 'etcd')
    usage(
      `--datastore '${o.values.datastore}' is not supported`,
      "use 'etcd' (the Kubernetes API comes next)",
    );
  if (o.values['dry-run'])
    usage('--dry-run is not available with --agents', 'the agents decide what to program; see docs/agent.md');
  const started = performance.now();
  const cluster = await labUpAgents({
    lab,
    spec,
    ...(o.text !== undefined ? { specText: o.text } : {}),
    source: o.source,
    overrides: o.overrides,
    verbose: o.values.verbose ?? false,
  });
  console.log(
    `lab ${lab} is up with agents: ${cluster.nodes.length} node(s), ${cluster.pods.length} pod(s) in ${Math.round(performance.now() - started)} ms`,
  );
  for (const n of cluster.nodes)
    console.log(`  node ${n.name.padEnd(8)} ${n.ip.toString().padEnd(15)} subnet ${n.podCIDR}`);
  for (const p of cluster.pods)
    console.log(`  pod  ${p.name.padEnd(8)} ${p.ip.toString().padEnd(15)} on ${p.node}`);
  console.log(`next: podnet lab verify${lab === 'podnet' ? '' : ` --name ${lab}`}`);
  return 0;
}
