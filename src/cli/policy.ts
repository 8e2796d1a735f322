import { ConfigError, type ConfigIssue, StateError } from '../errors.js';
import { type LoadedLab, loadLab } from '../lab/load.js';
import { LabNames } from '../lab/names.js';
import {
  parseLabelArgs,
  readPolicyCounters,
  recordLabels,
  recordPolicies,
  recordPolicyDeleted,
  syncLabPolicies,
} from '../lab/policy.js';
import { readSpecFile } from '../lab/spec-source.js';
import { runProbes } from '../lab/verify.js';
import { readDocuments } from '../model/documents.js';
import { parseNetworkPolicy } from '../model/policy/parse.js';
import { formatSelector } from '../model/policy/selector.js';
import type { NetworkPolicy, Protocol } from '../model/policy/types.js';
import { Ip } from '../net/ip.js';
import { allowed, type Decision, type Endpoint, type SideDecision } from '../plan/policy/evaluate.js';
import { findPod, worldOf } from '../plan/policy/world.js';

/** `podnet lab policy apply|delete|why`, `lab pod label`, `lab namespace label`: change, sync, explain. */

interface Flags {
  readonly file?: string | undefined;
  readonly verbose?: boolean | undefined;
  readonly json?: boolean | undefined;
}

function requireUp(l: LoadedLab, lab: string) {
  if (l.status !== 'up') throw new StateError(`lab '${lab}' is not up (status '${l.status}')`);
}

/** Syncs every node after a change; `before` is the lab as it was, so only newly denied flows are cut. */
async function sync(lab: string, f: Flags, what: string, before: LoadedLab): Promise<number> {
  const after = loadLab(lab);
  const r = await syncLabPolicies(after.cluster, after.state, new LabNames(lab), {
    verbose: f.verbose ?? false,
    before: before.cluster,
  });
  console.log(
    `${what}; in effect on ${after.cluster.nodes.length} node(s) after ${Math.round(r.appliedMs)} ms, synced in ${Math.round(r.ms)} ms (${r.ops.length} op(s), ${r.cuts} connection(s) cut)`,
  );
  return 0;
}

export async function policyApply(lab: string, f: Flags): Promise<number> {
  if (!f.file)
    throw new ConfigError(
      [{ path: '-f', message: 'is missing', hint: 'podnet lab policy apply -f POLICY.yaml' }],
      'command line',
    );
  const l = loadLab(lab);
  requireUp(l, lab);
  const r = readSpecFile(f.file);
  const docs = readDocuments(r.text ?? '', r.source);
  const issues: ConfigIssue[] = [];
  const parsed: { doc: unknown; policy: NetworkPolicy }[] = [];
  for (const d of docs) {
    if (d.doc.kind !== 'NetworkPolicy') {
      issues.push({
        path: `${d.at}kind`,
        message: `${JSON.stringify(d.doc.kind)} is not allowed here`,
        hint: 'kind: NetworkPolicy (networking.k8s.io/v1)',
      });
      continue;
    }
    const p = parseNetworkPolicy(d.doc, d.at, issues);
    if (p) parsed.push({ doc: d.doc, policy: p });
  }
  if (issues.length) throw new ConfigError(issues, r.source);
  recordPolicies(l.state, parsed);
  return sync(lab, f, `applied ${parsed.map((p) => `${p.policy.namespace}/${p.policy.name}`).join(', ')}`, l);
}

export async function policyDelete(lab: string, refs: readonly string[], f: Flags): Promise<number> {
  if (refs.length === 0)
    throw new ConfigError(
      [
        {
          path: 'command line',
          message: 'name the NetworkPolicy(s) to delete',
          hint: 'NAMESPACE/NAME, or NAME in default',
        },
      ],
      'command line',
    );
  const l = loadLab(lab);
  requireUp(l, lab);
  const keys = refs.map((k) => (k.includes('/') ? k : `default/${k}`));
  recordPolicyDeleted(l.state, l.cluster, keys);
  return sync(lab, f, `deleted ${keys.join(', ')}`, l);
}

export async function podLabel(lab: string, args: readonly string[], f: Flags): Promise<number> {
  const [ref, ...kv] = args;
  const l = loadLab(lab);
  requireUp(l, lab);
  const world = worldOf(l.cluster);
  const pod = ref ? findPod(world, ref) : undefined;
  if (!pod)
    throw new ConfigError(
      [
        {
          path: 'POD',
          message: `'${ref ?? ''}' is not a pod of this lab`,
          hint: `pods: ${world.pods.map((p) => `${p.namespace}/${p.name}`).join(', ')}`,
        },
      ],
      'command line',
    );
  const labels = parseLabelArgs(kv);
  const id = pod.namespace === 'default' ? pod.name : `${pod.namespace}-${pod.name}`;
  recordLabels(l.state, 'pod', id, labels);
  return sync(lab, f, `labelled pod ${pod.namespace}/${pod.name} ${kv.join(' ')}`, l);
}

export async function namespaceLabel(lab: string, args: readonly string[], f: Flags): Promise<number> {
  const [ns, ...kv] = args;
  const l = loadLab(lab);
  requireUp(l, lab);
  const world = worldOf(l.cluster);
  if (!ns || !world.namespaces.some((n) => n.name === ns))
    throw new ConfigError(
      [
        {
          path: 'NAMESPACE',
          message: `'${ns ?? ''}' is not a namespace of this lab`,
          hint: `namespaces: ${world.namespaces.map((n) => n.name).join(', ')}`,
        },
      ],
      'command line',
    );
  const labels = parseLabelArgs(kv);
  if ('kubernetes.io/metadata.name' in labels)
    throw new ConfigError(
      [
        {
          path: 'kubernetes.io/metadata.name',
          message: 'is set by the API server to the namespace name and cannot be changed',
        },
      ],
      'command line',
    );
  recordLabels(l.state, 'namespace', ns, labels);
  return sync(lab, f, `labelled namespace ${ns} ${kv.join(' ')}`, l);
}

/** `FROM TO[:PORT][/udp]`: the evaluator's reasoning, then one real connection and the deny counters it moved. */
export async function policyWhy(lab: string, args: readonly string[], f: Flags): Promise<number> {
  const [from, toArg, ...extra] = args;
  if (!from || !toArg || extra.length)
    throw new ConfigError(
      [
        {
          path: 'command line',
          message: 'usage: podnet lab policy why FROM TO[:PORT][/tcp|udp]',
          hint: 'FROM and TO: NAMESPACE/POD, a lab pod name, or an address',
        },
      ],
      'command line',
    );
  const l = loadLab(lab);
  const world = worldOf(l.cluster);
  const m = /^(.*?)(?::(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(toArg)!;
  const port = Number(m[2] ?? 80);
  const proto = (m[3] ?? 'tcp').toUpperCase() as Protocol;
  const end = (ref: string, what: string): Endpoint => {
    const pod = findPod(world, ref);
    if (pod) return { pod };
    const ip = Ip.tryParse(ref);
    if (ip) return { ip };
    throw new ConfigError(
      [
        {
          path: what,
          message: `'${ref}' is neither a pod of this lab nor an IPv4 address`,
          hint: `pods: ${world.pods.map((p) => `${p.namespace}/${p.name}`).join(', ')}`,
        },
      ],
      'command line',
    );
  };
  const src = end(from, 'FROM');
  const dst = end(m[1]!, 'TO');
  const d = allowed(world, src, dst, port, proto);
  const show = (e: Endpoint) =>
    'pod' in e ? `${e.pod.namespace}/${e.pod.name} (${e.pod.ip})` : e.ip.toString();
  const lines = [
    `${show(src)} -> ${show(dst)} ${proto}/${port}: ${d.allowed ? 'ALLOWED' : 'DENIED'}`,
    `  ${d.reason}`,
  ];
  lines.push(
    ...explainSide(world.policies, d.egress, 'egress'),
    ...explainSide(world.policies, d.ingress, 'ingress'),
  );
  let observed: { ok: boolean; moved: Record<string, number> } | undefined;
  if ('pod' in src && l.status === 'up' && proto !== 'SCTP') {
    const names = new LabNames(lab);
    const nodes = [...new Set([src.pod.node, ...('pod' in dst ? [dst.pod.node] : [])])];
    const read = () => readPolicyCounters(names, nodes);
    const before = await read();
    const id = src.pod.namespace === 'default' ? src.pod.name : `${src.pod.namespace}-${src.pod.name}`;
    const host = 'pod' in dst ? dst.pod.ip.toString() : dst.ip.toString();
    const [r] = await runProbes(
      lab,
      [{ id: 'why', from: id, to: host, kind: proto === 'UDP' ? 'udp' : 'tcp', host, port }],
      1,
    );
    const after = await read();
    const moved = Object.fromEntries(
      Object.entries(after)
        .filter(([k, v]) => v !== (before[k] ?? 0))
        .map(([k, v]) => [k, v - (before[k] ?? 0)]),
    );
    observed = { ok: r?.ok ?? false, moved };
    lines.push(
      `observed: one ${proto} connection ${r?.ok ? 'connected' : `did not connect (${r?.error ?? 'no answer'})`}`,
    );
    lines.push(
      Object.keys(moved).length
        ? `  deny counters that moved: ${Object.entries(moved)
            .map(([k, v]) => `${k} +${v}`)
            .join(', ')}`
        : '  no deny counter moved',
    );
  }
  if (f.json)
    (await import('./json.js')).printJson('PolicyDecision', {
      lab,
      decision: d,
      ...(observed ? { observed } : {}),
    });
  else console.log(lines.join('\n'));
  return 0;
}

function explainSide(policies: readonly NetworkPolicy[], s: SideDecision | undefined, dir: string): string[] {
  if (!s) return [];
  if (s.isolatedBy.length === 0)
    return [`  ${dir} at ${s.pod}: no policy selects it for ${dir} (not isolated)`];
  const out = [`  ${dir} at ${s.pod}: isolated by ${s.isolatedBy.join(', ')}`];
  for (const key of s.isolatedBy) {
    const p = policies.find((x) => `${x.namespace}/${x.name}` === key)!;
    const rules = dir === 'ingress' ? p.ingress : p.egress;
    out.push(`    ${key} (podSelector ${formatSelector(p.podSelector)}): ${rules.length} ${dir} rule(s)`);
    rules.forEach((r, i) => {
      const hit = s.allowedBy.some((a) => a.policy === key && a.rule === i);
      const peers =
        r.peers
          ?.map((x) =>
            x.kind === 'ipBlock'
              ? `ipBlock ${x.ipBlock.cidr}${x.ipBlock.except.length ? ` except ${x.ipBlock.except.join(',')}` : ''}`
              : [
                  x.namespaceSelector ? `namespaceSelector ${formatSelector(x.namespaceSelector)}` : '',
                  x.podSelector ? `podSelector ${formatSelector(x.podSelector)}` : '',
                ]
                  .filter(Boolean)
                  .join(' AND '),
          )
          .join(' OR ') ?? 'any peer';
      const ports =
        r.ports
          ?.map(
            (x) =>
              `${x.protocol}${x.port !== undefined ? `/${x.port}${x.endPort ? `-${x.endPort}` : ''}` : ''}`,
          )
          .join(',') ?? 'any port';
      out.push(`      [${i}] ${hit ? 'MATCHES' : 'no match'}: ${peers}; ${ports}`);
    });
  }
  return out;
}

export type { Decision };
