import { renderIptables } from '../plan/services/iptables.js';
import { buildProxyModel } from '../plan/services/model.js';
import { renderNftFull } from '../render/nft-proxy.js';
import { loadLab } from './load.js';
import { LabNames } from './names.js';

/** The service proxy rules each node has now, for `lab explain` of a running lab. */
export function explainProxy(lab: string): string {
  const l = loadLab(lab);
  const out: string[] = [];
  if (l.cluster.spec.sameNode !== 'bridge') return '';
  for (const node of l.cluster.nodes.map((n) => n.name)) {
    const m = buildProxyModel(l.cluster, node);
    out.push(
      '',
      `# ---- ${node}: service proxy rules now (${m.mode}; docs/services.md explains the layout) ----`,
      m.mode === 'nftables'
        ? `# nft -f - (in ${new LabNames(lab).nodeNs(node)})\n${renderNftFull(m)}`
        : `# iptables-restore --noflush (in ${new LabNames(lab).nodeNs(node)})\n${renderIptables(m)}`,
    );
  }
  return `${out.join('\n')}\n`;
}
