import { exec } from '../../exec/process-runner.js';
import { parseIpRoute } from '../../observe/ip-json.js';
import { ipArgv } from '../../render/netns.js';
import { isClusterLab } from '../cluster/change.js';
import type { LoadedLab } from '../load.js';
import { LabNames } from '../names.js';
import { labDrift } from '../node-sync.js';
import { hostRunner } from '../runners.js';
import type { LabStatus } from '../status.js';

/** One node's differences between what the model wants and what its namespace holds now. */
export interface NodeDifferences {
  readonly node: string;
  readonly differences: string[];
}

/**
 * Desired vs observed per node (for the page): the node's namespace and uplink address, each of its pods
 * running with its address, a route to every other node's pod CIDR (when a cross-node backend is on), and the
 * node model's drift as `lab verify` reports it (bridge, routes, sysctls, the service and policy tables) —
 * except in cluster mode, where each node's agent owns that state.
 */
export async function nodeDifferences(l: LoadedLab, s: LabStatus): Promise<NodeDifferences[]> {
  const names = new LabNames(l.state.lab);
  const c = l.cluster;
  const present = c.nodes.filter((n) => s.nodes.find((x) => x.name === n.name)?.present).map((n) => n.name);
  const drift = isClusterLab(l.state.lab)
    ? []
    : await labDrift(c, names, hostRunner(), { only: present }).catch((e: unknown) => [
        { node: '*', error: e instanceof Error ? e.message : String(e) },
      ]);
  return Promise.all(
    c.nodes.map(async (n) => {
      const d: string[] = [];
      const st = s.nodes.find((x) => x.name === n.name);
      if (!st?.present)
        return { node: n.name, differences: [`namespace ${names.nodeNs(n.name)} is missing`] };
      if (!st.addresses.some((a) => a.startsWith(`eth0 ${n.ip}/`))) d.push(`eth0 lacks ${n.ip}`);
      for (const p of s.pods.filter((x) => x.node === n.name)) {
        if (!p.running) d.push(`pod ${p.name}: pause process not running`);
        if (!p.addresses.some((a) => a.includes(` ${p.ip}/`)))
          d.push(`pod ${p.name}: address ${p.ip} missing`);
      }
      if (c.spec.crossNode !== 'none') {
        const routes = parseIpRoute((await exec(ipArgv(names.nodeNs(n.name), '-j', 'route', 'show'))).stdout);
        for (const o of c.nodes)
          if (o.name !== n.name && !routes.some((r) => r.dst === o.podCIDR.toString()))
            d.push(`no route for ${o.podCIDR} (${o.name}'s pods)`);
      }
      for (const r of drift)
        if ('error' in r) d.push(`node model not read: ${r.error}`);
        else if (r.node === n.name) d.push(...r.drift.map((x) => x.what));
      return { node: n.name, differences: [...new Set(d)] };
    }),
  );
}
