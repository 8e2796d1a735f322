import { subnetKey } from './subnets.js';

/**
 * The store's key layout (what KvStore reads and writes), for tools that write the store directly with
 * etcdctl: the lab in cluster mode, and docs/agent.md's examples.
 */
export const storeKeys = (prefix = '/podnet') => ({
  config: `${prefix}/config`,
  subnets: `${prefix}/subnets/`,
  subnet: (cidr: string) => `${prefix}/subnets/${subnetKey(cidr)}`,
  service: (namespace: string, name: string) => `${prefix}/services/specs/${namespace}/${name}`,
  endpointSlice: (namespace: string, name: string) =>
    `${prefix}/services/endpointslices/${namespace}/${name}`,
});
