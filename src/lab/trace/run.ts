import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { StateError } from '../../errors.js';
import { exec } from '../../exec/process-runner.js';
import { python3 } from '../../exec/python.js';
import { Capture, HeldProcess, TraceMonitor, TraceSession } from '../../exec/trace-observers.js';
import type { Cluster } from '../../model/resolve.js';
import { type ConntrackEvent, parseConntrackEvent } from '../../observe/conntrack-events.js';
import { vxlanDevice } from '../../plan/cross-node/vxlan.js';
import { worldOf } from '../../plan/policy/world.js';
import {
  conntrackEventsArgv,
  monitorArgv,
  type TraceMatch,
  tableName,
  traceCleanupScript,
  traceTablesScript,
} from '../../render/trace.js';
import { LabNames } from '../names.js';
import { type Diagnosis, diagnose } from './diagnose.js';
import { type ExpectedPath, expectedPath } from './expect.js';
import { findingsOf, WIRE, type WireVxlan, wireFindings, wireOf } from './findings.js';
import { buildHops, chosenEndpoint, type Hop } from './hops.js';
import { isOpening, joinVisits } from './join.js';
import { policyContext, policyExpected, policyFindings } from './policy-hop.js';
import { listeningSockets, readAllRoutes } from './reads.js';
import { resolveTrace, type TraceRequest } from './target.js';
import { endsOf, type Visit, visitsOf } from './visits.js';

/**
 * `podnet lab trace`: one real probe from the client's namespace, observed in every namespace it may cross
 * (nft trace tables + `nft monitor trace`, `conntrack -E` in the nodes), then joined into numbered hops
 * beside the model's expected path. Everything added to the kernel is removed when the trace ends — by the
 * session process when podnet exits or dies (its stdin closes), monitors by their parent-death signal.
 */

const SESSION = fileURLToPath(new URL('../../../../assets/trace-session.py', import.meta.url));
const PROBE = fileURLToPath(new URL('../../../../assets/trace-probe.py', import.meta.url));

export interface TraceOptions {
  readonly from: string;
  readonly to: string;
  readonly proto?: string;
  /** Payload bytes (to find MTU problems). */
  readonly size?: number;
  /** Probe timeout in seconds. */
  readonly timeoutS?: number;
  /** false: send the same probe without observing it (to compare verdicts). */
  readonly observe?: boolean;
  /** Also capture the underlay with tshark (VXLAN labs): the outer packets as tshark decodes them. */
  readonly capture?: boolean;
  /** Called once the trace tables and observers are in place (tests use it to kill podnet mid-trace). */
  readonly onReady?: () => void;
}

export interface ProbeVerdict {
  readonly verdict: 'answered' | 'refused' | 'timeout' | 'unreachable' | 'error';
  readonly answer: string;
  readonly error: string;
  readonly ms: number;
}

export interface TraceReport {
  readonly lab: string;
  readonly from: string;
  readonly to: string;
  readonly target: string;
  readonly proto: string;
  readonly client: { readonly ip: string; readonly sport: number; readonly ns: string };
  readonly dst: { readonly ip: string; readonly port: number };
  readonly probe: ProbeVerdict;
  readonly observed: boolean;
  readonly endpoint?: string;
  readonly request: Hop[];
  readonly reply: Hop[];
  readonly expected?: ExpectedPath;
  /** The answer when the probe did not get through: where it stopped and why. */
  readonly answer?: Diagnosis;
  /** Differences between what the model expected and what was seen. */
  readonly findings: string[];
  readonly namespaces: string[];
  readonly conntrack: ConntrackEvent[];
  /** `--capture`: the VXLAN packets tshark saw on the underlay switch during the probe. */
  readonly wire?: WireVxlan[];
  readonly ms: number;
}

/** The namespaces a probe may cross: the client's, every node's, the switch, the target's, the outside world. */
function namespacesFor(
  cluster: Cluster,
  names: LabNames,
  req: TraceRequest,
): { ns: string; bridged: boolean }[] {
  const out: { ns: string; bridged: boolean }[] = [];
  const add = (ns: string, bridged: boolean) => {
    if (!out.some((x) => x.ns === ns) && existsSync(`/run/netns/${ns}`)) out.push({ ns, bridged });
  };
  if (req.client.kind === 'pod') add(names.podNs(req.client.name), false);
  for (const n of cluster.nodes) add(names.nodeNs(n.name), cluster.spec.sameNode === 'bridge');
  add(names.switchNs, true);
  for (const e of req.target.endpoints) add(names.podNs(e.pod), false);
  // The router: where anything leaving by a default route goes (also when it should not).
  add(names.nodeNs('router'), false);
  if (req.target.kind === 'outside') add(names.podNs('outside'), false);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The probe's argv: one connection or datagram from inside the client's namespace (assets/trace-probe.py). */
function probeArgv(
  ns: string,
  req: TraceRequest,
  sport: number,
  size: number,
  timeoutS: number,
  hold: boolean,
) {
  return [
    'nsenter',
    `--net=/run/netns/${ns}`,
    python3(),
    PROBE,
    req.target.proto,
    req.target.ip,
    String(req.target.port),
    String(sport),
    String(size),
    String(timeoutS),
    ...(hold ? ['wait'] : []),
  ];
}

function verdictOf(r: { stdout: string; stderr: string; exitCode: number }): ProbeVerdict {
  try {
    return JSON.parse(r.stdout) as ProbeVerdict;
  } catch {
    return { verdict: 'error', answer: '', error: r.stderr.trim() || `probe exited ${r.exitCode}`, ms: 0 };
  }
}

export async function traceLab(lab: string, cluster: Cluster, o: TraceOptions): Promise<TraceReport> {
  const t0 = performance.now();
  const mark = (what: string) => {
    if (process.env.PODNET_TRACE_TIMING)
      process.stderr.write(`[trace] ${what} ${Math.round(performance.now() - t0)} ms\n`);
  };
  const names = new LabNames(lab);
  const req = resolveTrace(cluster, o.from, o.to, o.proto);
  const clientNs = req.client.kind === 'pod' ? names.podNs(req.client.name) : names.nodeNs(req.client.name);
  if (!existsSync(`/run/netns/${clientNs}`))
    throw new StateError(
      `${req.client.kind} '${req.client.name}' has no network namespace ${clientNs}: is lab '${lab}' up?`,
    );
  const sport = 20000 + Math.floor(Math.random() * 40000);
  const size = o.size ?? 64;
  const timeoutS = o.timeoutS ?? 1;
  const base = {
    lab,
    from: o.from,
    to: o.to,
    target: req.target.label,
    proto: req.target.proto,
    client: { ip: req.client.ip, sport, ns: clientNs },
    dst: { ip: req.target.ip, port: req.target.port },
  };
  if (o.observe === false) {
    const probe = verdictOf(await exec(probeArgv(clientNs, req, sport, size, timeoutS, false)));
    return {
      ...base,
      probe,
      observed: false,
      request: [],
      reply: [],
      findings: [],
      namespaces: [],
      conntrack: [],
      ms: performance.now() - t0,
    };
  }

  const tag = `p${process.pid}x${Math.random().toString(36).slice(2, 7)}`;
  const vxlanPort = cluster.spec.crossNode === 'vxlan' ? cluster.spec.vxlan.port : undefined;
  const dsts = [
    { ip: req.target.ip, port: req.target.port },
    ...req.target.endpoints.map((e) => ({ ip: e.ip, port: e.port })),
  ];
  const match: TraceMatch = {
    tag,
    proto: req.target.proto,
    client: req.client.ip,
    sport,
    dsts: dsts.filter((d, i) => dsts.findIndex((x) => x.ip === d.ip && x.port === d.port) === i),
    ...(vxlanPort !== undefined ? { vxlanPort } : {}),
  };
  const spaces = namespacesFor(cluster, names, req);
  const session = new TraceSession(
    SESSION,
    tag,
    spaces.map((s) => ({
      path: `/run/netns/${s.ns}`,
      setup: traceTablesScript(match, s.bridged, s.ns === names.switchNs),
      cleanup: traceCleanupScript(tag, s.bridged),
    })),
  );
  const monitors: TraceMonitor[] = [];
  const trackers: TraceMonitor[] = [];
  let probe: ProbeVerdict;
  const capture =
    o.capture && vxlanPort !== undefined
      ? new Capture(names.switchNs, 'sw0', `udp port ${vxlanPort}`, WIRE)
      : undefined;
  let wire: WireVxlan[] | undefined;
  // Started now, released once every observer listens: its start-up overlaps theirs.
  const held = new HeldProcess(probeArgv(clientNs, req, sport, size, timeoutS, true));
  // What the hops are described with does not change during the probe: read it while the observers start.
  const routesRead = readAllRoutes(
    spaces.map((s) => s.ns).filter((n) => n !== names.switchNs && !n.startsWith(names.podNs(''))),
  );
  const socketsRead = listeningSockets(
    req,
    spaces.map((s) => s.ns).filter((n) => n.startsWith(names.podNs(''))),
  );
  try {
    // conntrack's events need no table: its observers start while the session adds the trace tables.
    for (const s of spaces)
      if (s.ns !== names.switchNs && !s.ns.startsWith(names.podNs('')))
        trackers.push(
          new TraceMonitor(
            conntrackEventsArgv(`/run/netns/${s.ns}`, req.target.proto) as string[],
            s.ns,
            0x7,
          ),
        );
    const ready = await session.ready();
    mark('session');
    const failed = Object.entries(ready.errors);
    if (failed.length)
      throw new StateError(
        `could not add the trace tables: ${failed.map(([p, e]) => `${p}: ${e}`).join('; ')}`,
      );
    // After the tables exist: `nft monitor trace` prints an event only for chains in the cache it read at start.
    for (const s of spaces)
      monitors.push(new TraceMonitor(monitorArgv(`/run/netns/${s.ns}`) as string[], s.ns));
    await Promise.all([...monitors, ...trackers].map((m) => m.waitSubscribed()));
    await capture?.ready();
    mark('monitors');
    o.onReady?.();
    probe = verdictOf(await held.release());
    mark('probe');
    // Events arrive asynchronously (and late on a busy machine): wait for the first, then until every monitor
    // has been quiet for a while; give up waiting after a bound.
    const total = () => monitors.reduce((a, m) => a + m.lines.length, 0);
    const bound = Date.now() + 2000;
    let last = total();
    let quiet = 0;
    // An answered probe's reply was delivered in the client's namespace: its monitor must have printed that.
    const clientMon = monitors.find((m) => m.netns === clientNs);
    const replySeen = () =>
      probe.verdict !== 'answered' || !clientMon || clientMon.lines.some((l) => / seen-in packet: /.test(l));
    while (Date.now() < bound && (quiet < 150 || !replySeen())) {
      await sleep(30);
      const now = total();
      quiet = now === last && now > 0 ? quiet + 30 : 0;
      last = now;
    }
    mark('settled');
    if (capture) {
      // Every outer packet the switch's monitor saw crossed sw0: tshark must have it too.
      const crossed = visitsOf(
        names.switchNs,
        monitors.find((m) => m.netns === names.switchNs)?.lines ?? [],
        tableName(tag),
        vxlanPort,
      );
      const rows = await capture.stop(crossed.filter((v) => v.layer === 'outer').length);
      wire = wireOf(rows);
    }
  } finally {
    held.cancel();
    await capture?.stop();
    await Promise.all([...monitors, ...trackers].map((m) => m.stop()));
    await session.close();
    mark('cleaned');
  }

  // Join: visits per namespace, kept when their tuple is the probe's (or a translation of it).
  const conntrack = trackers.flatMap((t) => t.lines.flatMap((l) => parseConntrackEvent(l) ?? []));
  const all = monitors.flatMap((m) => visitsOf(m.netns, m.lines, tableName(tag), vxlanPort));
  const seenKeys = new Set<string>();
  const visits: Visit[] = joinVisits(req, sport, all, conntrack)
    .filter((v) => isOpening(v, req.target.proto))
    .filter((v) => {
      // A retransmission crosses the same namespace with the same tuple: keep the first.
      const f = endsOf(v).first;
      // (An outer packet's source port is a hash the kernel may change when TCP retransmits: key by its target.)
      const k =
        v.layer === 'outer'
          ? `${v.ns}/outer/${v.direction}/${f.daddr}`
          : `${v.ns}/inner/${v.direction}/${f.saddr}:${f.sport ?? f.icmpId}/${f.daddr}:${f.dport}/${f.icmpType ?? ''}`;
      if (seenKeys.has(k)) return false;
      seenKeys.add(k);
      return true;
    });
  const endpoint = chosenEndpoint(req, visits, names) ?? req.target.endpoints[0];
  const policy = policyContext(worldOf(cluster), req.client.ip, endpoint, req.target.proto);
  // What the model expects includes its policies: a denied connection ends at the node that drops it.
  const expected = policyExpected(
    expectedPath(cluster, names, req, endpoint),
    policy,
    (n) => names.nodeNs(n),
    req.client.kind === 'pod' ? req.client.node : undefined,
    endpoint?.node,
  );
  const [routes, sockets] = await Promise.all([routesRead, socketsRead]);
  mark('routes');
  const hops = buildHops({
    names,
    req,
    visits,
    expected,
    routes,
    sockets,
    clientNs,
    ...(vxlanPort !== undefined ? { vxlanDevice: vxlanDevice(cluster) } : {}),
    ...(policy ? { policy } : {}),
  });
  const icmpErrors = hops.reply.filter((h) => h.actions.some((a) => a.startsWith('ICMP ')));
  const delivered = hops.request.some((h) => h.onPath && h.delivered);
  const answer =
    delivered && !icmpErrors.length && probe.verdict === 'answered'
      ? undefined
      : await diagnose({
          cluster,
          names,
          req,
          ...(hops.stoppedAfter ? { stoppedAfter: hops.stoppedAfter } : {}),
          ...(hops.missing ? { missing: hops.missing } : {}),
          icmpErrors,
          clientNs,
          ...(probe.error ? { probeError: probe.error } : {}),
        });
  mark('done');
  return {
    ...base,
    probe,
    observed: true,
    ...(endpoint && hops.request.some((h) => h.ns === names.podNs(endpoint.pod) && h.seen)
      ? { endpoint: endpoint.pod }
      : {}),
    request: hops.request,
    reply: hops.reply,
    expected,
    ...(answer ? { answer } : {}),
    findings: [
      ...findingsOf(cluster, req, hops.request, hops.reply, expected),
      ...(wire ? wireFindings(wire, [...hops.request, ...hops.reply]) : []),
      ...policyFindings(policy, hops.request, delivered),
    ],
    ...(wire ? { wire } : {}),
    namespaces: spaces.map((s) => s.ns),
    conntrack,
    ms: performance.now() - t0,
  };
}
