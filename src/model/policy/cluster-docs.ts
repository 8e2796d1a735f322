import type { ConfigIssue } from '../../errors.js';
import type { SourceDoc } from '../documents.js';
import { parseNamespace, parseNetworkPolicy } from './parse.js';
import { type NamespaceSpec, type NetworkPolicy, policyKey } from './types.js';

/**
 * The cluster file's `Namespace` and `NetworkPolicy` documents: each parsed strictly (every problem with its
 * path), names unique, as the API server keeps them.
 */

/**
 * The lab's name for a pod: its own name in 'default', `<namespace>-<name>` elsewhere, so pods a of x and a of
 * y get distinct network namespaces and veths (Kubernetes names are unique per namespace only).
 */
export function podId(namespace: string, name: string): string {
  return namespace === 'default' ? name : `${namespace}-${name}`;
}

export function checkPolicyDocs(
  docs: readonly SourceDoc[],
  issues: ConfigIssue[],
): { namespaces?: NamespaceSpec[]; networkPolicies?: NetworkPolicy[] } {
  const namespaces: NamespaceSpec[] = [];
  const networkPolicies: NetworkPolicy[] = [];
  const nsAt = new Map<string, string>();
  const polAt = new Map<string, string>();
  for (const d of docs) {
    if (d.doc.kind === 'Namespace') {
      const ns = parseNamespace(d.doc, d.at, issues);
      if (!ns) continue;
      const first = nsAt.get(ns.name);
      if (first)
        issues.push({
          path: `${d.at}metadata.name`,
          message: `namespace '${ns.name}' is already defined by ${first}`,
        });
      else {
        nsAt.set(ns.name, d.at.replace(/: $/, ''));
        namespaces.push(ns);
      }
    } else if (d.doc.kind === 'NetworkPolicy') {
      const p = parseNetworkPolicy(d.doc, d.at, issues);
      if (!p) continue;
      const first = polAt.get(policyKey(p));
      if (first)
        issues.push({
          path: `${d.at}metadata.name`,
          message: `NetworkPolicy '${policyKey(p)}' is already defined by ${first}`,
        });
      else {
        polAt.set(policyKey(p), d.at.replace(/: $/, ''));
        networkPolicies.push(p);
      }
    }
  }
  return {
    ...(namespaces.length ? { namespaces } : {}),
    ...(networkPolicies.length ? { networkPolicies } : {}),
  };
}
