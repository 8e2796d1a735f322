import { CNI_ERR, CniError } from './errors.js';

/**
 * CNI spec versions this plugin speaks, oldest first. Results are built in the 1.1.0 shape and converted to the
 * version the configuration asks for (Debian's containerd 1.6 and cnitool reject results newer than 1.0.0).
 */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST: CniVersion = '1.1.0';

export const isSupported = (v: string): v is CniVersion =>
  (SUPPORTED_VERSIONS as readonly string[]).includes(v);

/** Checks a configuration's cniVersion, with the spec's code 1 when we cannot speak it. */
export function requireSupported(v: string, where = 'cniVersion'): CniVersion {
  if (isSupported(v)) return v;
  throw new CniError(
    CNI_ERR.INCOMPATIBLE_VERSION,
    `incompatible CNI version: ${where} is '${v}'; podnet supports ${SUPPORTED_VERSIONS.join(', ')}`,
  );
}

/** A result in the 1.1.0 shape (SPEC.md "Success"). */
export interface CniResult {
  readonly cniVersion: string;
  readonly interfaces?: readonly CniInterface[];
  readonly ips?: readonly CniIpConfig[];
  readonly routes?: readonly CniRoute[];
  readonly dns?: CniDns;
}
export interface CniInterface {
  readonly name: string;
  readonly mac?: string;
  /** 1.1.0 */
  readonly mtu?: number;
  readonly sandbox?: string;
  /** 1.1.0 */
  readonly socketPath?: string;
  /** 1.1.0 */
  readonly pciID?: string;
}
export interface CniIpConfig {
  readonly address: string;
  readonly gateway?: string;
  readonly interface?: number;
  /** 0.3.x/0.4.0 only: "4" or "6". */
  readonly version?: '4' | '6';
}
export interface CniRoute {
  readonly dst: string;
  readonly gw?: string;
  /** 1.1.0 */
  readonly mtu?: number;
  readonly advmss?: number;
  readonly priority?: number;
  readonly table?: number;
  readonly scope?: number;
}
export interface CniDns {
  readonly nameservers?: readonly string[];
  readonly domain?: string;
  readonly search?: readonly string[];
  readonly options?: readonly string[];
}

const ROUTE_11 = ['mtu', 'advmss', 'priority', 'table', 'scope'] as const;
const IFACE_11 = ['mtu', 'socketPath', 'pciID'] as const;

const omit = <T extends object>(o: T, keys: readonly string[]): T =>
  Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k))) as T;

/**
 * Converts a 1.1.0-shaped result to `version`: 1.0.0 drops the fields 1.1.0 added; 0.3.0–0.4.0 also add
 * `ips[].version` (removed in 1.0.0). Empty lists are left out, as libcni does.
 */
export function convertResult(r: CniResult, version: CniVersion): CniResult {
  const legacy = version !== '1.1.0' && version !== '1.0.0';
  const out: {
    cniVersion: string;
    interfaces?: CniInterface[];
    ips?: CniIpConfig[];
    routes?: CniRoute[];
    dns?: CniDns;
  } = { cniVersion: version };
  if (r.interfaces?.length)
    out.interfaces = r.interfaces.map((i) => (version === '1.1.0' ? { ...i } : omit(i, IFACE_11)));
  if (r.ips?.length)
    out.ips = r.ips.map((ip) => {
      const { version: _v, ...rest } = ip;
      return legacy ? { ...rest, version: ip.address.includes(':') ? '6' : '4' } : rest;
    });
  if (r.routes?.length)
    out.routes = r.routes.map((rt) => (version === '1.1.0' ? { ...rt } : omit(rt, ROUTE_11)));
  out.dns = r.dns ?? {};
  return out;
}

/** Output of VERSION. */
export function versionInfo(requested?: string): { cniVersion: string; supportedVersions: string[] } {
  return {
    cniVersion: requested && isSupported(requested) ? requested : LATEST,
    supportedVersions: [...SUPPORTED_VERSIONS],
  };
}
