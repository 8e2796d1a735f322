import type { Cluster } from '../../model/resolve.js';
import { worldOf } from '../../plan/policy/world.js';
import { LabNames } from '../names.js';
import { expectedPath } from './expect.js';
import { policyContext, policyExpected } from './policy-hop.js';
import { resolveTrace } from './target.js';

/**
 * `podnet lab explain --walk FROM TO`: the seed's numbered packet walk, written from the model instead of by
 * hand (pure: nothing is sent, no root needed). One walk per endpoint the packet may be sent to; `lab trace`
 * prints the same stations beside what it observes. With policies, a denied connection ends where it is dropped.
 */
export function walkText(cluster: Cluster, lab: string, from: string, to: string, proto?: string): string {
  const names = new LabNames(lab);
  const req = resolveTrace(cluster, from, to, proto);
  const t = req.target;
  const world = worldOf(cluster);
  const out = [
    `walk ${from} → ${to}: ${t.label} (${t.ip}${t.proto === 'icmp' ? '' : `:${t.port}`}, ${t.proto}), from ${req.client.kind} ${req.client.name} (${req.client.ip}); from the model, nothing is sent`,
  ];
  const endpoints = t.endpoints.length ? t.endpoints : [undefined];
  for (const e of endpoints) {
    // With policies, a connection the evaluator denies ends at the node that drops it.
    const p = policyExpected(
      expectedPath(cluster, names, req, e),
      policyContext(world, req.client.ip, e, t.proto),
      (n) => names.nodeNs(n),
      req.client.kind === 'pod' ? req.client.node : undefined,
      e?.node,
    );
    if (endpoints.length > 1)
      out.push(
        '',
        `if ${t.kind === 'nodeport' ? 'the NodePort' : 'the service'} picks ${e?.pod} (${e?.ip}${e?.node ? ` on ${e.node}` : ''}):`,
      );
    else out.push('');
    if (p.unreachable) out.push(`  no path: ${p.unreachable}`);
    p.request.forEach((s, i) => {
      out.push(
        `  ${String(i + 1).padStart(2)}. ${s.place}${s.layer === 'outer' ? ' (outer packet)' : ''}: ${s.expect}`,
      );
    });
    const nat =
      t.kind === 'clusterip' || t.kind === 'nodeport'
        ? `; conntrack restores ${t.ip}:${t.port} as its source`
        : '';
    const masq = t.kind === 'outside' || t.kind === 'nodeport' ? ' and undoes the masquerade' : '';
    if (p.request.length && !p.reply.length) out.push('  no reply: the connection is denied');
    else if (p.request.length)
      out.push(`  the reply goes back through the same ${p.reply.length} places in reverse${nat}${masq}`);
  }
  return `${out.join('\n')}\n`;
}
