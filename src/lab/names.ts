import { IFNAMSIZ_MAX, shortHash } from '../net/ifname.js';
import { type Netns, named } from '../plan/ops.js';

/** Lab names: lower-case letters and digits, no "-", so `<lab>-` is an unambiguous prefix. */
export const LAB_NAME = /^[a-z][a-z0-9]{0,11}$/;

/**
 * How a lab names what it creates. Everything carries the lab's prefix, so two labs (or a lab and a test)
 * never collide, and `podnet lab down` finds all of it even without state.
 */
export class LabNames {
  constructor(readonly lab: string) {}

  get prefix(): string {
    return `${this.lab}-`;
  }

  get switchNs(): string {
    return `${this.lab}-switch`;
  }

  nodeNs(node: string): string {
    return `${this.lab}-${node}`;
  }

  podNs(pod: string): string {
    return `${this.lab}-pod-${pod}`;
  }

  node(node: string): Netns {
    return named(this.nodeNs(node));
  }

  pod(pod: string): Netns {
    return named(this.podNs(pod));
  }

  /** The shell variable holding a pod's pause PID in printed scripts, as the seed writes `A0_PID`. */
  pidVar(pod: string): string {
    return `${pod.toUpperCase().replace(/-/g, '_')}_PID`;
  }

  /** The switch port cabled to a node. */
  switchPort(node: string): string {
    const readable = `sw-${node}`;
    return readable.length <= IFNAMSIZ_MAX ? readable : `sw${shortHash(node)}`;
  }

  /** Whether a namespace name belongs to this lab. */
  owns(netnsName: string): boolean {
    return netnsName.startsWith(this.prefix);
  }
}

/** Node names that would collide with the lab's own namespace names. */
export function reservedNodeName(node: string): boolean {
  return node === 'switch' || node.startsWith('pod-');
}
