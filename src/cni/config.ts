import { isAbsolute } from 'node:path';
import { gatewayOf, podCapacity, rangeBounds } from '../model/ipam.js';
import { ifnameProblem } from '../net/ifname.js';
import { Cidr, Ip } from '../net/ip.js';
import { CNI_ERR, CniError } from './errors.js';
import { prevResultProblems } from './prev-result.js';
import { type CniDns, type CniVersion, requireSupported } from './version.js';

/**
 * One address range of the network: pods get addresses of `subnet` from `start` to `end` (host-local's
 * `rangeStart`/`rangeEnd`, inclusive; absent means network + 1 and broadcast - 1); `gateway` sits on the bridge
 * and is never handed out.
 */
export interface PodRange {
  readonly subnet: Cidr;
  readonly gateway: Ip;
  readonly start?: Ip;
  readonly end?: Ip;
}

/** An attachment the runtime still knows (GC's `cni.dev/valid-attachments`). */
export interface Attachment {
  readonly containerID: string;
  readonly ifname: string;
}

/** The plugin's network configuration, validated (docs/cni.md lists every field). */
export interface NetConf {
  readonly cniVersion: CniVersion;
  readonly name: string;
  readonly type: string;
  readonly bridge: string;
  readonly ranges: readonly PodRange[];
  readonly isGateway: boolean;
  readonly isDefaultGateway: boolean;
  readonly mtu: number;
  readonly hairpinMode: boolean;
  readonly ipMasq: boolean;
  /** Where reservations live; the network's files are under `<dataDir>/<name>/`. */
  readonly dataDir: string;
  readonly dns?: CniDns;
  readonly prevResult?: unknown;
  readonly validAttachments?: readonly Attachment[];
  /** Written by `podnet agent` while it holds the node's subnet lease: STATUS is not ready (50) without it. */
  readonly agentLeaseFile?: string;
}

export const DEFAULTS = {
  bridge: 'podnet0',
  mtu: 1500,
  dataDir: '/var/lib/cni/podnet',
} as const;

/** Network names become directory names: the spec's own pattern, so no path separator or `..` gets through. */
export const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const KNOWN = new Set([
  'cniVersion',
  'cniVersions',
  'name',
  'type',
  'bridge',
  'subnet',
  'rangeStart',
  'rangeEnd',
  'ranges',
  'gateway',
  'isGateway',
  'isDefaultGateway',
  'mtu',
  'hairpinMode',
  'ipMasq',
  'ipam',
  'dns',
  'args',
  'runtimeConfig',
  'capabilities',
  'prevResult',
  'disableCheck',
  'disableGC',
  'agentLeaseFile',
]);

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : (JSON.stringify(v) ?? String(v)));

/** Deepest nesting a configuration may have; real ones nest 4 or 5 levels (Go's decoder stops at 10,000). */
export const MAX_DEPTH = 512;

/** How deep `v` nests, counted without recursion (so pathological input cannot overflow the stack). */
function depthOf(v: unknown, limit: number): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (d > max) max = d;
    if (max > limit) return max;
    for (const c of Array.isArray(x) ? x : Object.values(x)) stack.push([c, d + 1]);
  }
  return max;
}

/** Decodes stdin; not JSON, too deeply nested, or not an object is the spec's code 6. */
export function decodeConfig(text: string): Json {
  const excerpt = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new CniError(
      CNI_ERR.DECODE,
      `network configuration on stdin is not valid JSON: ${(e as Error).message}`,
      excerpt,
    );
  }
  if (depthOf(data, MAX_DEPTH) > MAX_DEPTH)
    throw new CniError(
      CNI_ERR.DECODE,
      `network configuration on stdin nests deeper than ${MAX_DEPTH} levels`,
      excerpt,
    );
  if (!isObj(data))
    throw new CniError(
      CNI_ERR.DECODE,
      `network configuration on stdin must be a JSON object, got ${Array.isArray(data) ? 'a list' : show(data)}`,
    );
  return data;
}

/**
 * Validates a decoded configuration: every problem is listed in one code-7 error (code 1 for a version we
 * cannot speak, code 2 for an IPAM type we do not implement). Unknown fields are ignored, as the spec asks.
 */
export function parseConfig(raw: Json): NetConf {
  const cniVersion = requireSupported(
    typeof raw.cniVersion === 'string' ? raw.cniVersion : String(raw.cniVersion),
  );
  const issues: string[] = [];
  const bad = (path: string, msg: string) => issues.push(`${path}: ${msg}`);
  let ipam: Json = {};
  if (isObj(raw.ipam)) ipam = raw.ipam;
  else if (raw.ipam !== undefined) bad('ipam', `${show(raw.ipam)} must be an object`);
  if (ipam.type !== undefined && ipam.type !== 'podnet')
    throw new CniError(
      CNI_ERR.UNSUPPORTED_FIELD,
      `ipam.type ${show(ipam.type)} is not supported: podnet allocates addresses itself (omit ipam.type or set it to 'podnet')`,
    );

  const name = raw.name;
  if (typeof name !== 'string' || !NAME_RE.test(name))
    bad(
      'name',
      `${show(name)} is not a valid network name (letters, digits, '_', '.', '-'; not starting with '.', '_' or '-')`,
    );
  if (typeof raw.type !== 'string' || raw.type === '')
    bad('type', `${show(raw.type)} must be the plugin name`);

  const str = (v: unknown, path: string, dflt: string): string => {
    if (v === undefined) return dflt;
    if (typeof v !== 'string') bad(path, `${show(v)} must be a string`);
    return typeof v === 'string' ? v : dflt;
  };
  const bool = (v: unknown, path: string, dflt: boolean): boolean => {
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') bad(path, `${show(v)} must be true or false`);
    return v === true;
  };

  const bridge = str(raw.bridge, 'bridge', DEFAULTS.bridge);
  const bp = ifnameProblem(bridge);
  if (bp) bad('bridge', `${show(bridge)} ${bp}`);

  let mtu: number = DEFAULTS.mtu;
  if (raw.mtu !== undefined) {
    if (typeof raw.mtu !== 'number' || !Number.isInteger(raw.mtu) || raw.mtu < 576 || raw.mtu > 65535)
      bad('mtu', `${show(raw.mtu)} must be an integer from 576 to 65535`);
    else mtu = raw.mtu;
  }

  const isDefaultGateway = bool(raw.isDefaultGateway, 'isDefaultGateway', true);
  const isGateway = bool(raw.isGateway, 'isGateway', true);
  if (isDefaultGateway && !isGateway)
    bad('isDefaultGateway', 'needs isGateway (the default route points at the bridge)');
  const hairpinMode = bool(raw.hairpinMode, 'hairpinMode', false);
  const ipMasq = bool(raw.ipMasq, 'ipMasq', false);

  const dataDir = str(ipam.dataDir, 'ipam.dataDir', DEFAULTS.dataDir);
  if (!isAbsolute(dataDir) || /[\0\n]/.test(dataDir))
    bad('ipam.dataDir', `${show(dataDir)} must be an absolute path`);

  const ranges = parseRanges(raw, bad);

  const agentLeaseFile =
    raw.agentLeaseFile === undefined ? undefined : str(raw.agentLeaseFile, 'agentLeaseFile', '');
  if (agentLeaseFile !== undefined && !isAbsolute(agentLeaseFile))
    bad('agentLeaseFile', `${show(agentLeaseFile)} must be an absolute path`);

  let dns: CniDns | undefined;
  if (raw.dns !== undefined) {
    if (!isObj(raw.dns)) bad('dns', `${show(raw.dns)} must be an object`);
    else dns = raw.dns as CniDns;
  }

  let validAttachments: Attachment[] | undefined;
  const va = raw['cni.dev/valid-attachments'] ?? raw['cni.dev/attachments'];
  if (va !== undefined) {
    if (
      !Array.isArray(va) ||
      !va.every((a) => isObj(a) && typeof a.containerID === 'string' && typeof a.ifname === 'string')
    )
      bad('cni.dev/valid-attachments', 'must be a list of {containerID, ifname}');
    else validAttachments = va as Attachment[];
  }

  // A malformed prevResult is a configuration error on every verb, as in libcni's ParsePrevResult.
  if (raw.prevResult !== undefined) issues.push(...prevResultProblems(raw.prevResult));

  if (issues.length > 0)
    throw new CniError(
      CNI_ERR.INVALID_CONFIG,
      `invalid network configuration: ${issues.join('; ')}`,
      issues.join('\n'),
    );
  return {
    cniVersion,
    name: name as string,
    type: raw.type as string,
    bridge,
    ranges,
    isGateway,
    isDefaultGateway,
    mtu,
    hairpinMode,
    ipMasq,
    dataDir,
    ...(dns ? { dns } : {}),
    ...(raw.prevResult !== undefined ? { prevResult: raw.prevResult } : {}),
    ...(validAttachments ? { validAttachments } : {}),
    ...(agentLeaseFile ? { agentLeaseFile } : {}),
  };
}

/**
 * `subnet` (+ `gateway`, `rangeStart`, `rangeEnd`) or host-local style
 * `ranges: [[{subnet, gateway?, rangeStart?, rangeEnd?}]]` (one range set, IPv4).
 */
function parseRanges(raw: Json, bad: (path: string, msg: string) => void): PodRange[] {
  const entries: { subnet: unknown; gateway: unknown; start: unknown; end: unknown; path: string }[] = [];
  if (raw.subnet !== undefined && raw.ranges !== undefined)
    bad('subnet', 'give either subnet or ranges, not both');
  if (raw.subnet === undefined)
    for (const k of ['rangeStart', 'rangeEnd'])
      if (raw[k] !== undefined)
        bad(k, `${show(raw[k])} goes with subnet; with ranges, give it inside the range (ranges[0][i].${k})`);
  if (raw.subnet !== undefined)
    entries.push({
      subnet: raw.subnet,
      gateway: raw.gateway,
      start: raw.rangeStart,
      end: raw.rangeEnd,
      path: '',
    });
  else if (raw.ranges !== undefined) {
    if (!Array.isArray(raw.ranges) || raw.ranges.length !== 1 || !Array.isArray(raw.ranges[0]))
      bad('ranges', 'must be a list holding one range set, e.g. [[{"subnet": "10.244.1.0/24"}]]');
    else
      (raw.ranges[0] as unknown[]).forEach((r, i) => {
        if (!isObj(r)) bad(`ranges[0][${i}]`, 'must be an object with a subnet');
        else
          entries.push({
            subnet: r.subnet,
            gateway: r.gateway,
            start: r.rangeStart,
            end: r.rangeEnd,
            path: `ranges[0][${i}].`,
          });
      });
  } else bad('subnet', 'is required (the node pod subnet, e.g. "10.244.1.0/24"), or give ranges');

  const out: PodRange[] = [];
  for (const e of entries) {
    const subnet = typeof e.subnet === 'string' ? Cidr.tryParse(e.subnet) : undefined;
    if (!subnet) {
      bad(
        `${e.path}subnet`,
        `${show(e.subnet)} is not an IPv4 CIDR with zero host bits (e.g. "10.244.1.0/24")`,
      );
      continue;
    }
    if (subnet.prefix > 29) {
      bad(
        `${e.path}subnet`,
        `'${subnet}' is too small: pods need a /29 or larger (network, gateway, broadcast are reserved)`,
      );
      continue;
    }
    let gateway = gatewayOf(subnet);
    if (e.gateway !== undefined) {
      const g = typeof e.gateway === 'string' ? Ip.tryParse(e.gateway) : undefined;
      if (!g) bad(`${e.path}gateway`, `${show(e.gateway)} is not an IPv4 address`);
      else if (!subnet.contains(g) || g.equals(subnet.network) || g.equals(subnet.broadcast))
        bad(`${e.path}gateway`, `'${g}' is not a host address of ${subnet}`);
      else gateway = g;
    }
    const hostIp = (v: unknown, key: string): Ip | null | undefined => {
      if (v === undefined) return undefined;
      const ip = typeof v === 'string' ? Ip.tryParse(v) : undefined;
      if (!ip) bad(`${e.path}${key}`, `${show(v)} is not an IPv4 address`);
      else if (!subnet.contains(ip) || ip.equals(subnet.network) || ip.equals(subnet.broadcast))
        bad(`${e.path}${key}`, `'${ip}' is not a host address of ${subnet}`);
      else return ip;
      return null;
    };
    const start = hostIp(e.start, 'rangeStart');
    const end = hostIp(e.end, 'rangeEnd');
    if (start === null || end === null) continue;
    const range: PodRange = { subnet, gateway, ...(start ? { start } : {}), ...(end ? { end } : {}) };
    if (start || end) {
      const b = rangeBounds(range);
      if (b.last < b.first) {
        bad(
          `${e.path}rangeEnd`,
          `'${Ip.fromNumber(b.last)}' is before rangeStart '${Ip.fromNumber(b.first)}'`,
        );
        continue;
      }
      if (podCapacity(subnet, range) === 0) {
        bad(
          `${e.path}rangeStart`,
          `${start ?? Ip.fromNumber(b.first)}-${end ?? Ip.fromNumber(b.last)} holds no address but the gateway ${gateway}`,
        );
        continue;
      }
    }
    const clash = out.find((o) => o.subnet.overlaps(subnet));
    if (clash) bad(`${e.path}subnet`, `'${subnet}' overlaps '${clash.subnet}'`);
    else out.push(range);
  }
  return out;
}

/** Fields a configuration carries that podnet does not know (for a warning on stderr, never an error). */
export function unknownFields(raw: Json): string[] {
  return Object.keys(raw).filter((k) => !KNOWN.has(k) && !k.startsWith('cni.dev/'));
}
