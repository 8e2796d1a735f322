import { ConfigError, type ConfigIssue } from '../../errors.js';
import * as z from '../../model/zod.js';
import { Cidr } from '../../net/ip.js';
import type { NetworkConfig } from './store.js';

/**
 * `<prefix>/config` as stored: flannel's JSON shape (`Network`, `SubnetLen`, `Backend.Type`, `Backend.VNI`,
 * `Backend.Port`) plus podnet's `ServiceNetwork` and `MTU`. Unknown fields are errors, every problem listed.
 */
const int = (min: number, max: number) => z.number().check(z.int(), z.gte(min), z.lte(max));
const schema = z.strictObject({
  Network: z.string(),
  SubnetLen: z._default(int(8, 30), 24),
  ServiceNetwork: z._default(z.string(), '10.96.0.0/12'),
  MTU: z.optional(int(576, 9000)),
  Backend: z.strictObject({
    Type: z.enum(['host-gw', 'vxlan', 'ipip']),
    VNI: z.optional(int(1, 16777215)),
    Port: z.optional(int(1, 65535)),
  }),
});

/** Parses stored (or file) text into a NetworkConfig; ConfigError naming `source`, each field, value and rule. */
export function parseNetworkConfig(text: string, source = 'network config'): NetworkConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError([{ path: '(document)', message: `not JSON: ${(e as Error).message}` }], source);
  }
  const r = z.safeParse(schema, json);
  const issues: ConfigIssue[] = [];
  if (!r.success) {
    for (const i of r.error.issues)
      issues.push({ path: i.path.join('.') || '(document)', message: i.message });
    throw new ConfigError(issues, source);
  }
  const c = r.data;
  const net = Cidr.tryParse(c.Network);
  if (!net)
    issues.push({ path: 'Network', message: `'${c.Network}' is not an IPv4 CIDR with zero host bits` });
  else if (c.SubnetLen < net.prefix)
    issues.push({ path: 'SubnetLen', message: `${c.SubnetLen} is shorter than Network's /${net.prefix}` });
  const svc = Cidr.tryParse(c.ServiceNetwork);
  if (!svc) issues.push({ path: 'ServiceNetwork', message: `'${c.ServiceNetwork}' is not an IPv4 CIDR` });
  else if (net?.overlaps(svc))
    issues.push({ path: 'ServiceNetwork', message: `'${c.ServiceNetwork}' overlaps Network '${c.Network}'` });
  if (issues.length) throw new ConfigError(issues, source);
  return {
    network: c.Network,
    subnetLen: c.SubnetLen,
    serviceNetwork: c.ServiceNetwork,
    backend: {
      type: c.Backend.Type,
      ...(c.Backend.VNI !== undefined ? { vni: c.Backend.VNI } : {}),
      ...(c.Backend.Port !== undefined ? { port: c.Backend.Port } : {}),
    },
    ...(c.MTU !== undefined ? { mtu: c.MTU } : {}),
  };
}

/** The stored text of a NetworkConfig (inverse of parseNetworkConfig). */
export function encodeNetworkConfig(c: NetworkConfig): string {
  return JSON.stringify({
    Network: c.network,
    SubnetLen: c.subnetLen,
    ServiceNetwork: c.serviceNetwork,
    ...(c.mtu !== undefined ? { MTU: c.mtu } : {}),
    Backend: {
      Type: c.backend.type,
      ...(c.backend.vni !== undefined ? { VNI: c.backend.vni } : {}),
      ...(c.backend.port !== undefined ? { Port: c.backend.port } : {}),
    },
  });
}
