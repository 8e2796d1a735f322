import type { ConfigIssue } from '../errors.js';
import type { PodSpec } from './cluster.js';
import { parseIpOr } from './cluster-checks.js';
import type { SourceDoc } from './documents.js';
import { podId } from './policy/cluster-docs.js';
import { k8sPodSchema } from './schema.js';
import { formatPath, strictParse } from './strict.js';

/**
 * Plain Kubernetes `kind: Pod` documents of a cluster file, read strictly (schema.ts), as podnet pods: name
 * (namespace-qualified), node, labels, the containers' command and args, ports, and the `podnet.dev/ip`
 * annotation. Problems go to `issues` with the path as written; a Pod with any is left out.
 */
export function readK8sPods(
  pods: readonly SourceDoc[],
  issues: ConfigIssue[],
): { pod: PodSpec; at: string }[] {
  const extraPods: { pod: PodSpec; at: string }[] = [];
  for (const d of pods) {
    const p = strictParse(k8sPodSchema, d.doc, d);
    if (!p.ok) {
      issues.push(...p.issues);
      continue;
    }
    const m = p.data.metadata;
    const ipPath = `${d.at}${formatPath(['metadata', 'annotations', 'podnet.dev/ip'])}`;
    const ns = m.namespace ?? 'default';
    const ports = p.data.spec.containers.flatMap((k) => k.ports ?? []);
    extraPods.push({
      at: d.at,
      pod: {
        name: podId(ns, m.name),
        ...(m.namespace ? { namespace: m.namespace } : {}),
        ...(ports.length
          ? {
              ports: ports.map((x) => ({
                containerPort: x.containerPort,
                protocol: x.protocol,
                ...(x.name ? { name: x.name } : {}),
              })),
            }
          : {}),
        node: p.data.spec.nodeName,
        labels: m.labels ?? {},
        containers: p.data.spec.containers.map((k) => ({
          name: k.name,
          command: [...(k.command ?? []), ...(k.args ?? [])],
          rootfs: 'host',
        })),
        ...(m.annotations?.['podnet.dev/ip']
          ? { ip: parseIpOr(m.annotations['podnet.dev/ip'], ipPath, issues) }
          : {}),
      },
    });
    p.data.spec.containers.forEach((k, i) => {
      if (![...(k.command ?? []), ...(k.args ?? [])].length) {
        issues.push({
          path: `${d.at}spec.containers[${i}].command`,
          message: 'is missing',
          hint: 'podnet runs no images: give the command to run',
        });
      }
    });
  }
  return extraPods;
}
