import { sha256 } from '../../net/sha256.js';
import type { ProxyEndpoint, ProxyModel, ProxyServicePort } from './model.js';

/**
 * kube-proxy's iptables layout, prefixed `PODNET-` so it never collides with a real kube-proxy (the seed's §5
 * approach made complete). nat table:
 *
 *   PREROUTING, OUTPUT -> PODNET-SERVICES: one rule per portal, `-d VIP -p P --dport N -j PODNET-SVC-<hash>`;
 *                         last rule: local destinations -> PODNET-NODEPORTS
 *   PODNET-NODEPORTS   -> PODNET-EXT-<hash> (mark for masquerade, then the SVC chain), or the SVL chain (Local)
 *   PODNET-SVC-<hash>  statistic cascade: `--probability 1/n`, `1/(n-1)`, ..., last endpoint unconditional
 *   PODNET-SEP-<hash>  `-s EP -j PODNET-MARK-MASQ` (hairpin), then `-j DNAT --to-destination EP:PORT`
 *   POSTROUTING        -> PODNET-POSTROUTING: masquerade what carries mark 0x4000; egress masquerade
 * filter table: PODNET-SERVICES rejects portals without endpoints (REJECT is not allowed in nat).
 *
 * Every rule carries `-m comment --comment "podnet: …"`. The whole thing is applied with one
 * `iptables-restore --noflush`: declaring a chain (`:NAME - [0:0]`) flushes just that chain, so later syncs
 * rewrite the dispatch chains and the chains of changed services only (kube-proxy's partial sync).
 */

export const IPT = {
  services: 'PODNET-SERVICES',
  nodePorts: 'PODNET-NODEPORTS',
  postrouting: 'PODNET-POSTROUTING',
  markMasq: 'PODNET-MARK-MASQ',
  svc: 'PODNET-SVC-',
  svl: 'PODNET-SVL-',
  ext: 'PODNET-EXT-',
  sep: 'PODNET-SEP-',
} as const;

/** kube-proxy's hashed chain names: prefix + 16 characters of base32(sha256). At most 28 characters. */
export function chainName(prefix: string, key: string): string {
  const digest = sha256(key);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= 16) break;
  }
  return prefix + out;
}

const comment = (text: string) => `-m comment --comment "podnet: ${text.replace(/"/g, "'")}"`;

/** kube-proxy's probability strings: 1/(n-i) with 10 decimals. */
export const probability = (n: number): string => (1 / n).toFixed(10);

/** The chains (name -> rules) one service port owns, all in the nat table. */
function serviceChains(s: ProxyServicePort, m: ProxyModel): Map<string, string[]> {
  const chains = new Map<string, string[]>();
  const proto = `-p ${s.protocol} -m ${s.protocol}`;
  const sepName = (e: ProxyEndpoint) => chainName(IPT.sep, `${s.id}/${e.ip}:${e.port}`);
  const cascade = (chain: string, eps: readonly ProxyEndpoint[], what: string) => {
    const rules: string[] = [];
    if (s.affinitySeconds) {
      for (const e of eps)
        rules.push(
          `-A ${chain} ${comment(`${what} -> ${e.pod} (affinity)`)} -m recent --name ${sepName(e)} --mask 255.255.255.255 --rsource --rcheck --seconds ${s.affinitySeconds} --reap -j ${sepName(e)}`,
        );
    }
    eps.forEach((e, i) => {
      const stat =
        i < eps.length - 1 ? `-m statistic --mode random --probability ${probability(eps.length - i)} ` : '';
      rules.push(`-A ${chain} ${comment(`${what} -> ${e.pod}`)} ${stat}-j ${sepName(e)}`);
    });
    return rules;
  };
  if (s.endpoints.length > 0) {
    const svc = chainName(IPT.svc, s.id);
    chains.set(svc, [
      `-A ${svc} ${comment(`${s.id} cluster IP`)} ${proto} -d ${s.clusterIP}/32 --dport ${s.port} ! -s ${m.clusterCIDR} -j ${IPT.markMasq}`,
      ...cascade(svc, s.endpoints, s.id),
    ]);
  }
  if (s.nodePort !== undefined && (s.nodePortEndpoints?.length ?? 0) > 0) {
    const eps = s.nodePortEndpoints ?? [];
    if (s.nodePortLocal) {
      const svl = chainName(IPT.svl, s.id);
      chains.set(svl, cascade(svl, eps, `${s.id} node port (Local)`));
    } else {
      const ext = chainName(IPT.ext, s.id);
      const svc = chainName(IPT.svc, s.id);
      chains.set(ext, [
        `-A ${ext} ${comment(`${s.id} node port: masquerade`)} -j ${IPT.markMasq}`,
        `-A ${ext} ${comment(`${s.id} node port`)} -j ${svc}`,
      ]);
      if (!chains.has(svc)) chains.set(svc, cascade(svc, eps, s.id));
    }
  }
  const allEps = new Map<string, ProxyEndpoint>();
  for (const e of [...s.endpoints, ...(s.nodePortEndpoints ?? [])]) allEps.set(sepName(e), e);
  for (const [sep, e] of allEps) {
    chains.set(sep, [
      `-A ${sep} ${comment(`${s.id} -> ${e.pod}`)} -s ${e.ip}/32 -j ${IPT.markMasq}`,
      `-A ${sep} ${comment(`${s.id} -> ${e.pod}`)} ${proto}${s.affinitySeconds ? ` -m recent --name ${sep} --mask 255.255.255.255 --rsource --set` : ''} -j DNAT --to-destination ${e.ip}:${e.port}`,
    ]);
  }
  return chains;
}

function dispatchRules(m: ProxyModel): { nat: string[]; nodePorts: string[]; reject: string[] } {
  const nat: string[] = [];
  const nodePorts: string[] = [];
  const reject: string[] = [];
  for (const s of m.services) {
    const proto = `-p ${s.protocol} -m ${s.protocol}`;
    if (s.endpoints.length > 0)
      nat.push(
        `-A ${IPT.services} ${comment(`${s.id} cluster IP`)} -d ${s.clusterIP}/32 ${proto} --dport ${s.port} -j ${chainName(IPT.svc, s.id)}`,
      );
    else
      reject.push(
        `-A ${IPT.services} ${comment(`${s.id} has no endpoints`)} -d ${s.clusterIP}/32 ${proto} --dport ${s.port} -j REJECT --reject-with ${s.protocol === 'tcp' ? 'tcp-reset' : 'icmp-port-unreachable'}`,
      );
    if (s.nodePort === undefined) continue;
    if ((s.nodePortEndpoints?.length ?? 0) > 0)
      nodePorts.push(
        `-A ${IPT.nodePorts} ${comment(`${s.id} node port`)} ${proto} --dport ${s.nodePort} -j ${chainName(s.nodePortLocal ? IPT.svl : IPT.ext, s.id)}`,
      );
    else
      reject.push(
        `-A ${IPT.services} ${comment(`${s.id} node port has no endpoints`)} -m addrtype --dst-type LOCAL ${proto} --dport ${s.nodePort} -j REJECT --reject-with ${s.protocol === 'tcp' ? 'tcp-reset' : 'icmp-port-unreachable'}`,
      );
  }
  nat.push(`-A ${IPT.services} ${comment('node ports')} -m addrtype --dst-type LOCAL -j ${IPT.nodePorts}`);
  return { nat, nodePorts, reject };
}

/**
 * One `iptables-restore --noflush` input. With `prev` undefined: everything, plus the jumps from the built-in
 * chains (added once: re-adding them would duplicate them). With `prev`: the dispatch chains in full, the
 * chains of changed service ports, and `-X` for chains that are gone.
 */
export function renderIptables(next: ProxyModel, prev?: ProxyModel): string {
  const want = new Map<string, string[]>();
  for (const s of next.services) for (const [k, v] of serviceChains(s, next)) want.set(k, v);
  const had = new Map<string, string[]>();
  if (prev) for (const s of prev.services) for (const [k, v] of serviceChains(s, prev)) had.set(k, v);
  const sameHooks =
    prev && prev.clusterCIDR === next.clusterCIDR && prev.egressMasquerade === next.egressMasquerade;
  const changed = [...want].filter(([k, v]) => !prev || had.get(k)?.join('\n') !== v.join('\n'));
  const gone = [...had.keys()].filter((k) => !want.has(k));
  const d = dispatchRules(next);

  const nat: string[] = ['*nat'];
  const base = [IPT.services, IPT.nodePorts, ...(sameHooks ? [] : [IPT.postrouting, IPT.markMasq])];
  for (const c of base) nat.push(`:${c} - [0:0]`);
  for (const [c] of changed) nat.push(`:${c} - [0:0]`);
  for (const c of gone) nat.push(`:${c} - [0:0]`);
  if (!prev) {
    nat.push(
      `-A PREROUTING ${comment('service portals')} -j ${IPT.services}`,
      `-A OUTPUT ${comment('service portals')} -j ${IPT.services}`,
      `-A POSTROUTING ${comment('masquerade')} -j ${IPT.postrouting}`,
    );
  }
  if (!sameHooks) {
    nat.push(
      `-A ${IPT.markMasq} ${comment('mark for masquerade')} -j MARK --or-mark 0x4000`,
      `-A ${IPT.postrouting} ${comment('service traffic that must be masqueraded')} -m mark --mark 0x4000/0x4000 -j MASQUERADE --random-fully`,
    );
    if (next.egressMasquerade)
      nat.push(
        `-A ${IPT.postrouting} ${comment('egress: pod traffic leaving the cluster CIDR')} -s ${next.clusterCIDR} ! -d ${next.clusterCIDR} -j MASQUERADE --random-fully`,
      );
  }
  nat.push(...d.nat, ...d.nodePorts);
  for (const [, rules] of changed) nat.push(...rules);
  for (const c of gone) nat.push(`-X ${c}`);
  nat.push('COMMIT');

  const filter = ['*filter', `:${IPT.services} - [0:0]`];
  if (!prev) {
    filter.push(
      `-A FORWARD -m conntrack --ctstate NEW ${comment('services without endpoints')} -j ${IPT.services}`,
      `-A OUTPUT -m conntrack --ctstate NEW ${comment('services without endpoints')} -j ${IPT.services}`,
      `-A INPUT -m conntrack --ctstate NEW ${comment('node ports without endpoints')} -j ${IPT.services}`,
    );
  }
  filter.push(...d.reject, 'COMMIT');
  return `${[...nat, ...filter].join('\n')}\n`;
}

/** The rules podnet adds to built-in chains (once, on a full sync), by table. */
export function iptablesJumps(): { table: 'nat' | 'filter'; chain: string; rule: string }[] {
  const nat = (chain: string, what: string, to: string) => ({
    table: 'nat' as const,
    chain,
    rule: `-A ${chain} ${comment(what)} -j ${to}`,
  });
  const filter = (chain: string, what: string) => ({
    table: 'filter' as const,
    chain,
    rule: `-A ${chain} -m conntrack --ctstate NEW ${comment(what)} -j ${IPT.services}`,
  });
  return [
    nat('PREROUTING', 'service portals', IPT.services),
    nat('OUTPUT', 'service portals', IPT.services),
    nat('POSTROUTING', 'masquerade', IPT.postrouting),
    filter('FORWARD', 'services without endpoints'),
    filter('OUTPUT', 'services without endpoints'),
    filter('INPUT', 'node ports without endpoints'),
  ];
}

/** iptables-restore input that removes every PODNET- chain and the jumps to them. */
export function renderIptablesRemove(prev: ProxyModel): string {
  const chains = new Set<string>();
  for (const s of prev.services) for (const k of serviceChains(s, prev).keys()) chains.add(k);
  return [
    '*nat',
    `-D PREROUTING ${comment('service portals')} -j ${IPT.services}`,
    `-D OUTPUT ${comment('service portals')} -j ${IPT.services}`,
    `-D POSTROUTING ${comment('masquerade')} -j ${IPT.postrouting}`,
    ...[IPT.services, IPT.nodePorts, IPT.postrouting, IPT.markMasq, ...chains].map((c) => `:${c} - [0:0]`),
    ...[IPT.services, IPT.nodePorts, IPT.postrouting, IPT.markMasq, ...chains].map((c) => `-X ${c}`),
    'COMMIT',
    '*filter',
    `-D FORWARD -m conntrack --ctstate NEW ${comment('services without endpoints')} -j ${IPT.services}`,
    `-D OUTPUT -m conntrack --ctstate NEW ${comment('services without endpoints')} -j ${IPT.services}`,
    `-D INPUT -m conntrack --ctstate NEW ${comment('node ports without endpoints')} -j ${IPT.services}`,
    `:${IPT.services} - [0:0]`,
    `-X ${IPT.services}`,
    'COMMIT',
    '',
  ].join('\n');
}
