import type { Netns, Op } from '../ops.js';
import { renderIptables, renderIptablesRemove } from './iptables.js';
import { type ProxyModel, staleUdpEndpoints } from './model.js';
import { planNftDiff, planNftFull, planNftRemove } from './nftables.js';

export { buildProxyModel, type ProxyModel } from './model.js';

/**
 * The proxy part of a node sync (pure): from the model applied last (`prev`; undefined: nothing there) to
 * `next`. `stale` is the model whose removed UDP endpoints need their conntrack entries flushed.
 */
export function planProxyChange(
  netns: Netns,
  prev: ProxyModel | undefined,
  next: ProxyModel,
  stale: ProxyModel | undefined = prev,
): Op[] {
  const node = next.node;
  const ops: Op[] = [];
  const modeChanged = prev !== undefined && prev.mode !== next.mode;
  if (modeChanged && prev) {
    if (prev.mode === 'nftables')
      ops.push({
        kind: 'nft.tx',
        netns,
        tx: planNftRemove(),
        note: `${node}: leave nftables mode: remove table ip podnet-services`,
      });
    else
      ops.push({
        kind: 'iptables.restore',
        netns,
        script: renderIptablesRemove(prev),
        note: `${node}: leave iptables mode: remove every PODNET- chain`,
      });
  }
  const base = modeChanged ? undefined : prev;
  if (next.mode === 'nftables') {
    const diff = base ? planNftDiff(base, next) : undefined;
    if (diff === undefined)
      ops.push({
        kind: 'nft.tx',
        netns,
        tx: planNftFull(next),
        note: `${node}: service proxy, full sync: table ip podnet-services with ${next.services.length} service port(s), one atomic transaction`,
      });
    else if (diff.length)
      ops.push({
        kind: 'nft.tx',
        netns,
        tx: diff,
        note: `${node}: service proxy, partial sync: only the map elements that changed, one atomic transaction`,
      });
  } else if (!base || !sameProxyModel(base, next)) {
    ops.push({
      kind: 'iptables.restore',
      netns,
      script: renderIptables(next, base),
      note: `${node}: service proxy (kube-proxy's iptables layout, PODNET- chains), ${base ? 'partial' : 'full'} sync with one iptables-restore --noflush`,
    });
  }
  ops.push(...staleUdpOps(netns, stale, next));
  return ops;
}

/** Conntrack flushes for the UDP endpoints `next` no longer has (model.ts staleUdpEndpoints). */
export function staleUdpOps(netns: Netns, stale: ProxyModel | undefined, next: ProxyModel): Op[] {
  const node = next.node;
  const ops: Op[] = [];
  for (const s of staleUdpEndpoints(stale, next)) {
    ops.push({
      kind: 'conntrack.delete',
      netns,
      protocol: 'udp',
      origDst: s.clusterIP,
      origDstPort: s.port,
      replySrc: s.endpoint,
      note: `${node}: forget UDP flows from ${s.clusterIP}:${s.port} to removed endpoint ${s.endpoint}, or clients keep sending into the void`,
    });
    if (s.nodePort)
      ops.push({
        kind: 'conntrack.delete',
        netns,
        protocol: 'udp',
        origDstPort: s.nodePort,
        replySrc: s.endpoint,
        note: `${node}: the same for node port ${s.nodePort}`,
      });
  }
  return ops;
}

/** Whether two models render the same (services compared by reference first, then by value). */
function sameProxyModel(a: ProxyModel, b: ProxyModel): boolean {
  if (a === b) return true;
  if (
    a.mode !== b.mode ||
    a.clusterCIDR !== b.clusterCIDR ||
    a.serviceCIDR !== b.serviceCIDR ||
    a.egressMasquerade !== b.egressMasquerade ||
    a.services.length !== b.services.length
  )
    return false;
  return a.services.every(
    (s, i) => s === b.services[i] || JSON.stringify(s) === JSON.stringify(b.services[i]),
  );
}
