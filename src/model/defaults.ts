import { seedServiceManifest } from './service-manifest.js';
import { builtIn } from './strict.js';

/**
 * The default cluster: the seed's topology. Three nodes on 192.168.64.0/24 (.4, .5, .6), cluster CIDR
 * 10.200.0.0/16 with a /24 per node, and the seed's pods A0 and A1 on node-0, B on node-1, C on node-2, which get
 * the seed's addresses 10.200.0.2, 10.200.0.3, 10.200.1.2 and 10.200.2.2. Nodes are joined by unicast VXLAN.
 * Every default is written out: the document is built-in (valid as it is, see builtIn in strict.ts).
 */
export function defaultClusterDoc() {
  return builtIn({
    apiVersion: 'podnet.dev/v1alpha1' as const,
    kind: 'Cluster' as const,
    metadata: { name: 'seed' },
    spec: {
      clusterCIDR: '10.200.0.0/16',
      serviceCIDR: '10.96.0.0/12',
      nodeCIDRMaskSize: 24,
      underlay: { subnet: '192.168.64.0/24', mtu: 1500 },
      sameNode: 'bridge' as const,
      // Unicast VXLAN (flannel's default): every pod reaches every pod, and it works where multicast does not.
      crossNode: 'vxlan' as const,
      vxlan: { vni: 1, port: 4789, learning: 'unicast' as const, group: '239.1.1.1' },
      nodes: [
        { name: 'node-0', ip: '192.168.64.4' },
        { name: 'node-1', ip: '192.168.64.5' },
        { name: 'node-2', ip: '192.168.64.6' },
      ],
      bridge: 'cni0',
      pods: [
        { name: 'a0', node: 'node-0', labels: { app: 'web' }, containers: [] },
        { name: 'a1', node: 'node-0', labels: { app: 'client' }, containers: [] },
        { name: 'b', node: 'node-1', labels: { app: 'web' }, containers: [] },
        { name: 'c', node: 'node-2', labels: { app: 'client' }, containers: [] },
      ],
      // The seed's service (§5): 10.96.0.2:8080 over the app=web pods a0 and b.
      services: [seedServiceManifest()] as unknown[],
      proxy: 'nftables' as const,
      egressMasquerade: true,
      outside: false,
    },
  });
}
