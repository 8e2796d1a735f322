import { CommandError } from '../errors.js';
import type { Runner } from '../exec/runner.js';
import { IPIP_DEVICE } from '../plan/cross-node/ipip.js';
import type {
  BridgeModel,
  FdbModel,
  NeighModel,
  NodeModel,
  NodeState,
  ProxyState,
  RouteModel,
  TunnelModel,
} from '../plan/node/model.js';
import type { Netns } from '../plan/ops.js';
import { iptStateOfScript } from '../plan/services/ipt-state.js';
import {
  readFdb,
  readIpState,
  readIptables,
  readNftTable,
  readPolicyTable,
  readSysctls,
} from '../render/observe.js';
import type { NftGenerations, NftParts } from './nft-generation.js';
import { parseNftTable } from './nft-json.js';
import { parsePolicyTable } from './policy.js';

/** What observe needs to know of the desired state: which names and keys are podnet's on this node. */
export interface ObserveScope {
  readonly node: string;
  readonly podCIDR: string;
  /** The bridge's configured name (cni0) and gateway address. */
  readonly bridge?: { readonly name: string; readonly address: string };
  /** The tunnel's desired address, so a link holding several is read as holding it. */
  readonly tunnelAddress?: string;
  /** The desired VXLAN device, whose FDB is then read alongside the rest instead of after it. */
  readonly vxlanDevice?: string;
  readonly sysctls: readonly string[];
  /** Which proxy layout to read; undefined: look for the nftables table only. */
  readonly proxy?: 'nftables' | 'iptables';
  /**
   * Do not read the proxy's objects (the caller keeps what it applied last, as kube-proxy does: a resync timer
   * then reads only links, routes, entries and sysctls; `lab verify|reconcile` read everything).
   */
  readonly skipProxy?: boolean;
  /** The model has a NetworkPolicy table (it is read anyway unless skipProxy: a left-over one is drift). */
  readonly policy?: boolean;
}

/** The scope of a desired model: its names, its sysctl keys, its proxy mode. */
export function scopeOf(m: NodeModel): ObserveScope {
  return {
    node: m.node,
    podCIDR: m.podCIDR,
    ...(m.bridge ? { bridge: { name: m.bridge.name, address: m.bridge.address } } : {}),
    ...(m.tunnel?.address ? { tunnelAddress: m.tunnel.address } : {}),
    ...(m.tunnel?.kind === 'vxlan' ? { vxlanDevice: m.tunnel.name } : {}),
    sysctls: Object.keys(m.sysctls),
    ...(m.proxy ? { proxy: m.proxy.mode } : {}),
    ...(m.policy ? { policy: true } : {}),
  };
}

/** How observe may shorten its reads. */
export interface ObserveOptions {
  /**
   * The nftables generation bookkeeping of a long-running loop: podnet's nftables tables are re-read only when
   * the kernel's generation id is not the one at which podnet knows their content (src/observe/nft-generation.ts).
   */
  readonly generations?: NftGenerations;
}

/**
 * Reads one node's podnet-owned objects into a NodeState (docs/kernel-objects.md): the bridge by its name, a
 * tunnel device named `vxlan.*` or `pnipip0`, routes of protocol ROUTE_PROTO, permanent neighbour and FDB
 * entries on that tunnel, the given sysctls, and table ip podnet-services or the PODNET- iptables chains.
 * Four or five read-only commands; anything else on the node is not looked at.
 */
export async function observeNode(
  runner: Runner,
  ns: Netns,
  scope: ObserveScope,
  options: ObserveOptions = {},
): Promise<NodeState> {
  const tables = observeNftParts(runner, ns, scope, options);
  const sysctls = scope.sysctls.length ? runner.run(readSysctls(ns, scope.sysctls)) : undefined;
  // Awaited below; if an earlier await throws first (the namespace went away), their rejection is not unhandled.
  tables.catch(() => {});
  sysctls?.catch(() => {});
  // Read alongside the rest; a device that is not there (drift) reads as no entries, and is re-read below.
  const early = scope.vxlanDevice
    ? runner.run(readFdb(ns, scope.vxlanDevice)).then(
        (r) => r.stdout,
        () => undefined,
      )
    : undefined;
  const [links, addrs, routes, neighs] = parseBatch((await runner.run(readIpState(ns))).stdout, 4) as [
    LinkJson[],
    LinkJson[],
    RouteJson[],
    NeighJson[],
  ];
  const up = (l: LinkJson) => (l.flags ?? []).includes('UP');
  const inet = (name: string) =>
    (addrs.find((a) => a.ifname === name)?.addr_info ?? [])
      .filter((a) => a.family === 'inet')
      .map((a) => `${a.local}/${a.prefixlen}`);
  const linksDown: string[] = [];

  let bridge: BridgeModel | undefined;
  const br = links.find((l) => l.ifname === scope.bridge?.name && l.linkinfo?.info_kind === 'bridge');
  if (br) {
    const address = pick(inet(br.ifname), scope.bridge?.address ?? '');
    const hooks = br.linkinfo?.info_data?.nf_call_iptables === 1;
    bridge = {
      name: br.ifname,
      address,
      mac: br.address ?? '',
      mtu: br.mtu,
      ...(hooks ? { nfCallIptables: true } : {}),
    };
    if (!up(br)) linksDown.push(br.ifname);
  }

  let tunnel: TunnelModel | undefined;
  const tl = links.find(
    (l) =>
      (l.linkinfo?.info_kind === 'vxlan' && l.ifname.startsWith('vxlan.')) ||
      (l.linkinfo?.info_kind === 'ipip' && l.ifname === IPIP_DEVICE),
  );
  if (tl) {
    const d = tl.linkinfo?.info_data ?? {};
    const address = pick(inet(tl.ifname), scope.tunnelAddress ?? '');
    tunnel =
      tl.linkinfo?.info_kind === 'ipip'
        ? { kind: 'ipip', name: tl.ifname, local: String(d.local ?? ''), mtu: tl.mtu, address }
        : {
            kind: 'vxlan',
            name: tl.ifname,
            vni: Number(d.id),
            local: String(d.local ?? ''),
            dev: String(d.link ?? ''),
            port: Number(d.port),
            ...(d.group ? { group: String(d.group) } : {}),
            learning: d.learning === true,
            ...(tl.address ? { mac: tl.address } : {}),
            mtu: tl.mtu,
            ...(address ? { address } : {}),
            ...(tl.master ? { master: tl.master } : {}),
          };
    if (!up(tl)) linksDown.push(tl.ifname);
  }

  const routeModels: RouteModel[] = routes.map((r) => ({
    dst: r.dst,
    ...(r.gateway ? { via: r.gateway } : {}),
    dev: r.dev ?? '',
    ...((r.flags ?? []).includes('onlink') ? { onlink: true } : {}),
    why: '',
  }));
  const neighbours: NeighModel[] = tunnel
    ? neighs
        .filter((n) => n.dev === tunnel.name && n.lladdr)
        .map((n) => ({ dev: n.dev!, ip: n.dst, mac: n.lladdr!, why: '' }))
    : [];
  let fdb: FdbModel[] = [];
  if (tunnel?.kind === 'vxlan') {
    const group = tunnel.group;
    const pre = early && tunnel.name === scope.vxlanDevice ? await early : undefined;
    const text = pre ?? (await runner.run(readFdb(ns, tunnel.name))).stdout;
    fdb = (JSON.parse(text || '[]') as FdbJson[])
      .filter((f) => f.dst && (f.flags ?? []).includes('self') && f.state === 'permanent')
      .filter((f) => !(f.mac === '00:00:00:00:00:00' && f.dst === group))
      .map((f) => ({ dev: tunnel.name, mac: f.mac, dst: f.dst!, why: '' }));
  }

  // A key the kernel lacks (br_netfilter not loaded) is not printed (`sysctl -e`): observed as ''.
  const sysctlValues: Record<string, string> = {};
  if (sysctls) {
    for (const key of scope.sysctls) sysctlValues[key] = '';
    for (const line of (await sysctls).stdout.split('\n')) {
      const m = /^(\S+) = (.*)$/.exec(line);
      if (m) sysctlValues[m[1]!] = m[2]!;
    }
  }

  const { proxy, policy, policyDamaged } = await tables;
  return {
    node: scope.node,
    podCIDR: scope.podCIDR,
    ...(bridge ? { bridge } : {}),
    sysctls: sysctlValues,
    ...(tunnel ? { tunnel } : {}),
    routes: routeModels,
    fdb,
    neighbours,
    ...(proxy ? { proxy } : {}),
    ...(linksDown.length ? { linksDown } : {}),
    ...(policy ? { policy } : {}),
    ...(policyDamaged ? { policyDamaged } : {}),
  };
}

/**
 * The node's podnet tables alone: the service proxy's (nftables table or PODNET- iptables chains) and the
 * NetworkPolicy table. With `generations`, the nftables tables are taken from podnet's own record when the
 * kernel's generation id shows nothing committed since (a foreign change bumps it and forces the read).
 */
export async function observeNftParts(
  runner: Runner,
  ns: Netns,
  scope: ObserveScope,
  options: ObserveOptions = {},
): Promise<NftParts> {
  const gens = options.generations;
  const gen = gens?.check(ns);
  const kept = gen?.parts;
  const ipt =
    !scope.skipProxy && scope.proxy === 'iptables'
      ? Promise.all([runner.run(readIptables(ns, 'nat')), runner.run(readIptables(ns, 'filter'))])
      : undefined;
  if (kept) {
    // The generation podnet knows: its nftables tables hold what it last applied.
    const proxy = scope.proxy === 'iptables' ? await iptProxy(ipt) : scope.skipProxy ? undefined : kept.proxy;
    return { ...(proxy ? { proxy } : {}), ...(kept.policy ? { policy: kept.policy } : {}) };
  }
  const nft = scope.skipProxy || scope.proxy === 'iptables' ? undefined : tryRun(runner, readNftTable(ns));
  const pol = scope.skipProxy && !scope.policy ? undefined : tryRun(runner, readPolicyTable(ns));
  // Awaited together: a namespace gone mid-read rejects both, and neither rejection is left unhandled.
  const [text, iptState, polText] = await Promise.all([nft, nft ? undefined : iptProxy(ipt), pol]);
  const proxy: ProxyState | undefined = nft
    ? text === undefined
      ? undefined
      : parseNftTable(text)
    : iptState;
  const observedPolicy = polText === undefined ? undefined : parsePolicyTable(polText, scope.node);
  // Read after the generation: a commit in between makes the next check differ, so nothing stale is kept.
  if (gens && gen && !scope.skipProxy) gens.observed(ns, gen.genid);
  return {
    ...(proxy ? { proxy } : {}),
    ...(observedPolicy && 'policy' in observedPolicy ? { policy: observedPolicy.policy } : {}),
    ...(observedPolicy && 'damaged' in observedPolicy ? { policyDamaged: observedPolicy.damaged } : {}),
  };
}

async function iptProxy(
  ipt: Promise<[{ stdout: string }, { stdout: string }]> | undefined,
): Promise<ProxyState | undefined> {
  if (!ipt) return undefined;
  const [nat, filter] = await ipt;
  return podnetIptables(`${nat.stdout}\n${filter.stdout}`);
}

/** The podnet part of iptables-save output: PODNET- chains and podnet-commented rules of built-in chains. */
export function podnetIptables(saved: string): ProxyState | undefined {
  const mine = saved
    .split('\n')
    .filter(
      (l) =>
        l.startsWith('*') ||
        l.startsWith(':PODNET-') ||
        l.startsWith('-A PODNET-') ||
        (l.startsWith('-A ') && /--comment "?podnet:/.test(l)),
    );
  const s = iptStateOfScript(mine.join('\n'));
  return Object.keys(s.chains).length ? s : undefined;
}

/** Runs a read whose object may be absent: undefined then (nft: "No such file or directory"). */
async function tryRun(runner: Runner, cmd: Parameters<Runner['run']>[0]): Promise<string | undefined> {
  try {
    return (await runner.run(cmd)).stdout;
  } catch (e) {
    if (e instanceof CommandError && /No such file or directory/.test(e.stderr)) return undefined;
    throw e;
  }
}

/** `ip -j -batch` prints one JSON array per command, one per line. */
function parseBatch(out: string, n: number): unknown[][] {
  const docs = out
    .split('\n')
    .filter((l) => l.startsWith('['))
    .map((l) => JSON.parse(l) as unknown[]);
  while (docs.length < n) docs.push([]);
  return docs;
}

/** The desired address if the link has it, else its first (the drift then names what is there). */
const pick = (have: string[], want: string) => (have.includes(want) ? want : (have[0] ?? ''));

interface LinkJson {
  ifname: string;
  flags?: string[];
  mtu: number;
  address?: string;
  master?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}
interface RouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
  flags?: string[];
}
interface NeighJson {
  dst: string;
  dev?: string;
  lladdr?: string;
}
interface FdbJson {
  mac: string;
  dst?: string;
  flags?: string[];
  state?: string;
}
