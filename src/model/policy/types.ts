/**
 * Kubernetes `networking.k8s.io/v1` NetworkPolicy and `v1` Namespace, as podnet keeps them once parsed: plain
 * data, every default already applied (policyTypes decided, protocols filled in), every CIDR parsed.
 */
import type { Cidr } from '../../net/ip.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type PolicyType = 'Ingress' | 'Egress';

/** A label selector: `matchLabels` and `matchExpressions` ANDed; an empty selector selects everything. */
export interface LabelSelector {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly SelectorRequirement[];
}

export interface SelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values: readonly string[];
}

/** `ipBlock`: a CIDR minus the `except` CIDRs (each inside it). */
export interface IpBlock {
  readonly cidr: Cidr;
  readonly except: readonly Cidr[];
}

/**
 * One peer of a rule. `podSelector` alone: pods of the policy's namespace; `namespaceSelector` alone: every pod
 * of the selected namespaces; both: the selected pods of the selected namespaces (AND); `ipBlock`: addresses.
 */
export type Peer =
  | {
      readonly kind: 'pods';
      readonly podSelector?: LabelSelector;
      readonly namespaceSelector?: LabelSelector;
    }
  | { readonly kind: 'ipBlock'; readonly ipBlock: IpBlock };

/** One `ports[]` entry: a protocol and, optionally, a port (number or container port name) or range. */
export interface PolicyPort {
  readonly protocol: Protocol;
  /** Absent: every port of the protocol. */
  readonly port?: number | string;
  /** With a numeric `port`: the range port..endPort. */
  readonly endPort?: number;
}

/**
 * An ingress or egress rule. `peers` undefined means the rule names no peers (`from`/`to` absent or empty): every
 * source/destination. `ports` undefined likewise means every port of every protocol. Peers OR, ports OR, and a
 * connection must match a peer AND a port.
 */
export interface PolicyRule {
  readonly peers?: readonly Peer[];
  readonly ports?: readonly PolicyPort[];
}

export interface NetworkPolicy {
  readonly name: string;
  readonly namespace: string;
  readonly podSelector: LabelSelector;
  /** Decided: as written, or Ingress plus Egress when `egress` rules are present. */
  readonly policyTypes: readonly PolicyType[];
  readonly ingress: readonly PolicyRule[];
  readonly egress: readonly PolicyRule[];
  /** Annotation `podnet.dev/log-denied: "true"`: denied connections are also logged (`nft log`). */
  readonly log?: boolean;
}

export interface NamespaceSpec {
  readonly name: string;
  /** Includes `kubernetes.io/metadata.name: <name>`, set automatically as the API server does. */
  readonly labels: Readonly<Record<string, string>>;
}

/** A container port a named policy port resolves against. */
export interface ContainerPort {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol: Protocol;
}

/** `namespace/name`, the key Kubernetes uses. */
export const policyKey = (p: { namespace: string; name: string }): string => `${p.namespace}/${p.name}`;

/** The label the API server puts on every namespace. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** The annotation that turns on logging of a policy's denials. */
export const LOG_ANNOTATION = 'podnet.dev/log-denied';
