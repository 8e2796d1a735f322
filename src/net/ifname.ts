import { sha256Hex } from './sha256.js';

/** Linux limits interface names to IFNAMSIZ - 1 = 15 bytes. */
export const IFNAMSIZ_MAX = 15;

const VALID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Why `name` cannot be an interface name, or undefined when it can. */
export function ifnameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > IFNAMSIZ_MAX)
    return `is ${name.length} characters; interface names allow at most ${IFNAMSIZ_MAX}`;
  if (name === '.' || name === '..') return 'is not allowed';
  if (!VALID.test(name)) return 'may only contain letters, digits, "_", "." and "-"';
  return undefined;
}

/** First `n` hex characters of sha256(text): stable, collision-resistant short ids for kernel object names. */
export function shortHash(text: string, n = 8): string {
  return sha256Hex(text).slice(0, n);
}

/**
 * The host-side veth of a pod attachment, one scheme for the lab and the CNI plugin: `pn` + 8 hex characters
 * of sha256(attachment key) (kube-proxy's hashAndTruncate idea), always 15 characters or fewer. Keys: the
 * CNI plugin's `<containerID>/<ifname>`, the lab's `lab/<cluster>/<pod>/eth0`.
 */
export function hostVethName(attachment: string): string {
  return `pn${shortHash(attachment)}`;
}

/** Every host-side veth podnet names, and nothing else: CNI GC removes only links matching it. */
export const HOST_VETH_RE = /^pn[0-9a-f]{8}$/;
