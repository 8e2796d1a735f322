import type { Inspection } from '../lab/inspect.js';
import type { LabSummary } from '../lab/list.js';
import type { LabStatus } from '../lab/status.js';
import type { VerifyReport } from '../lab/verify.js';

/**
 * The `--json` output of every read command, one stable shape each (documented in docs/lab.md, "JSON output").
 * Each document starts with `apiVersion` and `kind`, as Kubernetes objects do; fields are added, never renamed
 * or removed, within one apiVersion. Internal types are mapped here field by field, so a change inside the lab
 * code cannot change what scripts read without a change in this file.
 */
export const JSON_API_VERSION = 'podnet.dev/v1alpha1';

type Doc = Record<string, unknown>;

/** Prints one JSON document on stdout. */
export function printJson(kind: string, body: Doc): void {
  console.log(JSON.stringify({ apiVersion: JSON_API_VERSION, kind, ...body }, null, 2));
}

/** What a read command prints for a lab that does not exist (it then exits 1). */
export function missingLab(lab: string, message: string): Doc {
  return { lab, exists: false, error: { code: 'LAB_NOT_FOUND', message } };
}

/** `lab status --json`: kind LabStatus. */
export function statusJson(s: LabStatus): Doc {
  return {
    lab: s.lab,
    exists: true,
    status: s.status,
    nodes: s.nodes.map((n) => ({
      name: n.name,
      netns: n.netns,
      present: n.present,
      ip: n.ip,
      podCIDR: n.podCIDR,
      addresses: n.addresses.map(devAddr),
    })),
    pods: s.pods.map((p) => ({
      name: p.name,
      node: p.node,
      ip: p.ip,
      netns: p.netns,
      running: p.running,
      pausePid: p.pausePid ?? null,
      addresses: p.addresses.map(devAddr),
    })),
  };
}

/** `lab list --json`: kind LabList. */
export function listJson(labs: readonly LabSummary[]): Doc {
  return {
    labs: labs.map((l) => ({
      name: l.name,
      state: l.state,
      nodes: l.nodes,
      pods: l.pods,
      podsRunning: l.podsRunning,
      createdAt: l.createdAt ?? null,
      source: l.source ?? null,
      stateDir: l.stateDir ?? null,
    })),
  };
}

/** `lab verify --json`: kind VerifyReport. */
export function verifyJson(r: VerifyReport): Doc {
  return {
    lab: r.lab,
    exists: true,
    passed: r.passed,
    failed: r.failed,
    results: r.results.map((p) => ({
      id: p.id,
      from: p.from,
      to: p.to,
      kind: p.kind,
      host: p.host,
      port: p.port ?? null,
      expect: p.expect ?? null,
      ok: p.ok,
      ms: p.ms ?? null,
      answer: p.answer ?? null,
      error: p.error ?? null,
    })),
    sharedNs: r.sharedNs.map((c) => ({
      pod: c.pod,
      ok: c.ok,
      netns: c.netns ?? null,
      processes: c.processes,
      detail: c.detail,
    })),
    services: (r.services ?? []).map((c) => ({
      service: c.service,
      from: c.from,
      target: c.target,
      expected: [...c.expected],
      answers: { ...c.answers },
      failures: c.failures,
      ok: c.ok,
      detail: c.detail,
    })),
    nodes: (r.nodes ?? []).map((n) => ({ node: n.node, drift: [...n.drift] })),
  };
}

/** `lab inspect --json`: kind Inspection. */
export function inspectJson(i: Inspection): Doc {
  return {
    lab: i.lab,
    exists: true,
    crossNode: i.crossNode,
    learning: i.learning ?? null,
    mtu: { underlay: i.mtu.underlay, pod: i.mtu.pod },
    nodes: i.nodes.map((n) => ({
      node: n.node,
      ip: n.ip,
      podCIDR: n.podCIDR,
      device: n.device ?? null,
      routes: n.routes.map((r) => ({
        dst: r.dst,
        gateway: r.gateway ?? null,
        dev: r.dev ?? null,
        flags: [...r.flags],
      })),
      fdb: n.fdb.map((f) => ({
        mac: f.mac,
        dst: f.dst ?? null,
        flags: [...f.flags],
        master: f.master ?? null,
        state: f.state,
      })),
      neigh: n.neigh.map((x) => ({ ip: x.ip, dev: x.dev ?? null, mac: x.mac ?? null, state: [...x.state] })),
    })),
    wire: i.wire
      ? {
          from: i.wire.from,
          to: i.wire.to,
          filter: i.wire.filter,
          overhead: i.wire.overhead ?? null,
          expected: i.wire.expected,
          packet: i.wire.packet
            ? {
                frameLen: i.wire.packet.frameLen,
                ipLens: [...i.wire.packet.ipLens],
                src: [...i.wire.packet.src],
                dst: [...i.wire.packet.dst],
                ipProto: [...i.wire.packet.ipProto],
                udpDstPort: i.wire.packet.udpDstPort ?? null,
                vni: i.wire.packet.vni ?? null,
              }
            : null,
          error: i.wire.error ?? null,
        }
      : null,
  };
}

/** "eth0 10.200.0.2/24" → {dev, cidr}. */
function devAddr(a: string): { dev: string; cidr: string } {
  const [dev = '', cidr = ''] = a.split(' ');
  return { dev, cidr };
}
