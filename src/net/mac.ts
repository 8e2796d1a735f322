import { sha256 } from './sha256.js';

/**
 * A stable, locally administered unicast MAC derived from a name (for VTEP devices): the same node always
 * gets the same MAC, so peers' FDB and neighbour entries stay valid across restarts.
 */
export function macFromName(name: string): string {
  const h = sha256(name);
  const bytes = [(h[0]! & 0xfe) | 0x02, h[1]!, h[2]!, h[3]!, h[4]!, h[5]!];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
