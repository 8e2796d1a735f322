/** Parsers for `ip -j` output (pure): the observe side reads the kernel through these. */

export interface LinkAddrs {
  readonly ifname: string;
  readonly state: string;
  readonly mtu: number;
  readonly addrs: string[];
  readonly master?: string;
  readonly kind?: string;
}

/** `ip -j addr show` → interfaces with their IPv4 addresses. */
export function parseIpAddr(json: string): LinkAddrs[] {
  if (!json.trim()) return [];
  const data = JSON.parse(json) as {
    ifname: string;
    operstate: string;
    mtu: number;
    master?: string;
    linkinfo?: { info_kind?: string };
    addr_info?: { family: string; local: string; prefixlen: number }[];
  }[];
  return data.map((l) => ({
    ifname: l.ifname,
    state: l.operstate,
    mtu: l.mtu,
    addrs: (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
    ...(l.master ? { master: l.master } : {}),
    ...(l.linkinfo?.info_kind ? { kind: l.linkinfo.info_kind } : {}),
  }));
}

export interface RouteState {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly flags: string[];
}

/** `ip -j route show` → routes. */
export function parseIpRoute(json: string): RouteState[] {
  if (!json.trim()) return [];
  const data = JSON.parse(json) as { dst: string; gateway?: string; dev?: string; flags?: string[] }[];
  return data.map((r) => ({
    dst: r.dst,
    ...(r.gateway ? { gateway: r.gateway } : {}),
    ...(r.dev ? { dev: r.dev } : {}),
    flags: r.flags ?? [],
  }));
}
