import type { CrossNodeMode } from '../../model/cluster.js';
import type { Cluster } from '../../model/resolve.js';
import { hostGw } from './host-gw.js';
import { ipip } from './ipip.js';
import type { CrossNodeBackend } from './types.js';
import { vxlan } from './vxlan.js';

export type { CrossNodeBackend } from './types.js';

/** The backends by mode: an explicit map, no registration by import side effect. */
const BACKENDS: Readonly<Record<Exclude<CrossNodeMode, 'none'>, CrossNodeBackend>> = {
  'host-gw': hostGw,
  vxlan,
  ipip,
};

/** The backend a cluster uses, or undefined for crossNode: none. */
export function backendOf(c: Cluster): CrossNodeBackend | undefined {
  return c.spec.crossNode === 'none' ? undefined : BACKENDS[c.spec.crossNode];
}
