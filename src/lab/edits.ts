/**
 * Changes made to a running lab (`podnet lab node|pod add|remove`), kept in the lab record as a list and
 * replayed over the spec text on every load, so every later command sees the lab as it is now. They edit the
 * cluster document before validation: an edit that makes the spec invalid is a ConfigError like any other.
 */
export type SpecEdit =
  | {
      readonly op: 'node.add';
      readonly node: { readonly name: string; readonly ip: string; readonly segment?: string };
    }
  | { readonly op: 'node.remove'; readonly name: string }
  | {
      readonly op: 'pod.add';
      readonly pod: {
        readonly name: string;
        readonly node: string;
        readonly ip?: string;
        readonly labels?: Readonly<Record<string, string>>;
      };
    }
  | { readonly op: 'pod.remove'; readonly name: string };

type Doc = Record<string, unknown>;

const nameOf = (v: unknown): unknown => (v && typeof v === 'object' ? (v as Doc).name : undefined);

/**
 * Applies edits to a cluster document's `spec` (nodes, pods) and to the plain Kubernetes Pod documents next to
 * it (pure; returns new values). Removing a node removes its pods too.
 */
export function applyEdits(
  spec: Doc,
  podDocs: readonly Doc[],
  edits: readonly SpecEdit[],
): { spec: Doc; podDocs: Doc[] } {
  let nodes = Array.isArray(spec.nodes) ? [...(spec.nodes as unknown[])] : [];
  let pods = Array.isArray(spec.pods) ? [...(spec.pods as unknown[])] : [];
  let docs = [...podDocs];
  const podNode = (p: unknown) => (p && typeof p === 'object' ? (p as Doc).node : undefined);
  const docName = (d: Doc) => nameOf(d.metadata);
  const docNode = (d: Doc) => (d.spec && typeof d.spec === 'object' ? (d.spec as Doc).nodeName : undefined);
  for (const e of edits) {
    switch (e.op) {
      case 'node.add':
        nodes.push({ ...e.node });
        break;
      case 'node.remove':
        nodes = nodes.filter((n) => nameOf(n) !== e.name);
        pods = pods.filter((p) => podNode(p) !== e.name);
        docs = docs.filter((d) => docNode(d) !== e.name);
        break;
      case 'pod.add':
        pods.push({ ...e.pod });
        break;
      case 'pod.remove':
        pods = pods.filter((p) => nameOf(p) !== e.name);
        docs = docs.filter((d) => docName(d) !== e.name);
        break;
    }
  }
  return { spec: { ...spec, nodes, pods }, podDocs: docs };
}
