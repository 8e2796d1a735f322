import { fileURLToPath } from 'node:url';
import type { Cluster } from '../model/resolve.js';
import type { Op } from '../plan/ops.js';
import type { LabNames } from './names.js';
import type { LabPaths } from './plan.js';

/** The outside world (TEST-NET-3): a router on the underlay's .1 and one host behind it running a server. */
export const OUTSIDE = {
  routerUnderlayIfname: 'eth0',
  routerIp: '203.0.113.1',
  hostIp: '203.0.113.10',
  prefix: 24,
  port: 80,
  pod: 'outside',
} as const;

export const ECHO_SCRIPT = fileURLToPath(new URL('../../../assets/echo.py', import.meta.url));

/**
 * A router namespace on the underlay's reserved .1 address, with a second leg to an "outside" host
 * (203.0.113.10) that runs the who-am-I server. The router knows no pod CIDR: only masqueraded pod traffic
 * (source: a node's underlay address) can get an answer back, which is what the egress test checks.
 */
export function planOutside(
  cluster: Cluster,
  names: LabNames,
  paths: LabPaths,
  add: (title: string, ...ops: Op[]) => void,
) {
  const router = names.node('router');
  const routerNs = names.nodeNs('router');
  const hostNs = names.podNs(OUTSIDE.pod);
  const pid = names.pidVar(OUTSIDE.pod);
  const sw = { kind: 'named' as const, name: names.switchNs };
  const gw = cluster.spec.underlay.subnet.network.add(1).toString();
  const prefix = cluster.spec.underlay.subnet.prefix;
  add('namespaces', {
    kind: 'netns.add',
    name: routerNs,
    note: 'outside: a router between the underlay and the outside world',
  });
  add('pause', {
    kind: 'pod.pause',
    pod: OUTSIDE.pod,
    pid,
    log: paths.log(OUTSIDE.pod, 'pause'),
    note: 'outside: a host beyond the router (its own namespaces, like a pod)',
  });
  add('sandboxes', {
    kind: 'netns.attach',
    name: hostNs,
    pid,
    note: `outside: name the outside host's network namespace ${hostNs}`,
  });
  add(
    'cables',
    {
      kind: 'link.add-veth',
      netns: sw,
      name: 'sw-router',
      peer: OUTSIDE.routerUnderlayIfname,
      peerNetns: router,
      note: 'outside: cable the router to the underlay switch',
    },
    {
      kind: 'link.set',
      netns: sw,
      name: 'sw-router',
      master: 'sw0',
      up: true,
      note: 'outside: plug the router into the switch',
    },
    {
      kind: 'link.add-veth',
      netns: router,
      name: 'ext0',
      peer: 'eth0',
      peerNetns: { kind: 'named', name: hostNs },
      note: 'outside: cable the router to the outside host',
    },
  );
  const host = { kind: 'named' as const, name: hostNs };
  add(
    'pod interfaces',
    { kind: 'link.set', netns: router, name: 'lo', up: true, note: 'outside: router loopback up' },
    {
      kind: 'addr.add',
      netns: router,
      dev: 'eth0',
      cidr: `${gw}/${prefix}`,
      note: "outside: the router is the underlay's gateway (.1)",
    },
    { kind: 'link.set', netns: router, name: 'eth0', up: true, note: 'outside: router underlay leg up' },
    {
      kind: 'addr.add',
      netns: router,
      dev: 'ext0',
      cidr: `${OUTSIDE.routerIp}/${OUTSIDE.prefix}`,
      note: 'outside: router outside leg',
    },
    { kind: 'link.set', netns: router, name: 'ext0', up: true, note: 'outside: router outside leg up' },
    {
      kind: 'sysctl.set',
      netns: router,
      key: 'net.ipv4.ip_forward',
      value: '1',
      note: 'outside: the router forwards',
    },
    { kind: 'link.set', netns: host, name: 'lo', up: true, note: 'outside: host loopback up' },
    {
      kind: 'addr.add',
      netns: host,
      dev: 'eth0',
      cidr: `${OUTSIDE.hostIp}/${OUTSIDE.prefix}`,
      note: 'outside: the outside host address',
    },
    { kind: 'link.set', netns: host, name: 'eth0', up: true, note: 'outside: host interface up' },
    {
      kind: 'route.replace',
      netns: host,
      dst: 'default',
      via: OUTSIDE.routerIp,
      note: 'outside: host default route via the router',
    },
  );
  add('containers', {
    kind: 'pod.container',
    pid,
    pod: OUTSIDE.pod,
    container: {
      name: 'echo',
      command: ['python3', ECHO_SCRIPT, OUTSIDE.pod, String(OUTSIDE.port)],
      log: paths.log(OUTSIDE.pod, 'echo'),
    },
    note: `outside: a server on ${OUTSIDE.hostIp}:${OUTSIDE.port} answering with the client address it sees`,
  });
}

/** A node's way out of the cluster: a default route via the underlay's router (.1). */
export function planOutsideRoute(cluster: Cluster, names: LabNames, node: string): Op {
  return {
    kind: 'route.replace',
    netns: names.node(node),
    dst: 'default',
    via: cluster.spec.underlay.subnet.network.add(1).toString(),
    note: `${node}: default route via the underlay's router, the way out of the cluster`,
  };
}
