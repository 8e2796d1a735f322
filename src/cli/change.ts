import { ConfigError } from '../errors.js';
import { labChange } from '../lab/change.js';
import type { SpecEdit } from '../lab/edits.js';

export interface ChangeFlags {
  readonly ip?: string | undefined;
  readonly node?: string | undefined;
  readonly segment?: string | undefined;
  readonly label?: readonly string[] | undefined;
  readonly verbose?: boolean | undefined;
}

const usage = (message: string): never => {
  throw new ConfigError([{ path: 'command line', message }], 'command line');
};

/** `podnet lab node|pod add|remove …`: parses the words into one edit and hands it to the lab. */
export async function changeCommand(
  what: 'node' | 'pod',
  lab: string,
  positionals: readonly string[],
  f: ChangeFlags,
): Promise<number> {
  const [action, name, ...extra] = positionals;
  if (action !== 'add' && action !== 'remove') usage(`use 'podnet lab ${what} add|remove NAME'`);
  if (!name) usage(`name the ${what}: podnet lab ${what} ${action} NAME`);
  if (extra.length) usage(`unexpected '${extra.join(' ')}'`);
  let edit: SpecEdit;
  if (what === 'node') {
    edit =
      action === 'add'
        ? {
            op: 'node.add',
            node: { name: name!, ip: f.ip ?? '', ...(f.segment ? { segment: f.segment } : {}) },
          }
        : { op: 'node.remove', name: name! };
  } else if (action === 'add') {
    if (!f.node) usage(`say where the pod runs: --node NODE`);
    const labels: Record<string, string> = {};
    for (const l of f.label ?? []) {
      const [k, v] = l.split('=', 2);
      if (!k || v === undefined) usage(`--label '${l}' is not k=v`);
      labels[k!] = v!;
    }
    edit = {
      op: 'pod.add',
      pod: { name: name!, node: f.node!, ...(f.ip ? { ip: f.ip } : {}), labels },
    };
  } else {
    edit = { op: 'pod.remove', name: name! };
  }
  const cluster = await import('../lab/cluster/change.js');
  if (cluster.isClusterLab(lab)) return cluster.clusterChange(lab, edit, f.verbose ?? false);
  const r = await labChange(lab, edit, { verbose: f.verbose ?? false });
  const d = r.delta;
  const parts = [
    d.addedNodes.length && `node(s) added: ${d.addedNodes.join(', ')}`,
    d.removedNodes.length && `node(s) removed: ${d.removedNodes.join(', ')}`,
    d.addedPods.length && `pod(s) added: ${d.addedPods.join(', ')}`,
    d.removedPods.length && `pod(s) removed: ${d.removedPods.join(', ')}`,
  ].filter(Boolean);
  console.log(
    `lab ${lab}: ${parts.join('; ') || 'no change'} in ${Math.round(r.ms)} ms; ${r.opsOnExistingNodes} cross-node entr(ies) changed on other nodes (${r.cluster.spec.crossNode}${r.cluster.spec.crossNode === 'vxlan' ? ` ${r.cluster.spec.vxlan.learning}` : ''})`,
  );
  for (const n of r.cluster.nodes.filter((x) => d.addedNodes.includes(x.name)))
    console.log(`  node ${n.name.padEnd(8)} ${n.ip.toString().padEnd(15)} pods ${n.podCIDR}`);
  for (const p of r.cluster.pods.filter((x) => d.addedPods.includes(x.name)))
    console.log(`  pod ${p.name.padEnd(8)} ${p.ip.toString().padEnd(15)} on ${p.node}`);
  return 0;
}
