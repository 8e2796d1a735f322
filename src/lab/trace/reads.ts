import { exec } from '../../exec/process-runner.js';
import type { RouteState } from '../../observe/ip-json.js';
import { readRoutes } from './diagnose.js';
import type { TraceRequest } from './target.js';

/** What the hops are described with, read from the kernel while the trace's observers start. */

/** Every namespace's routes (the main table), read at once. */
export async function readAllRoutes(spaces: readonly string[]): Promise<Map<string, RouteState[]>> {
  const out = new Map<string, RouteState[]>();
  await Promise.all(
    spaces.map(async (ns) =>
      out.set(
        ns,
        (await readRoutes(ns)).map((r) => ({
          dst: r.dst,
          ...(r.gateway ? { gateway: r.gateway } : {}),
          ...(r.dev ? { dev: r.dev } : {}),
          flags: r.flags ?? [],
        })),
      ),
    ),
  );
  return out;
}

/** Who may receive the probe: the listening socket (address, process) on its port in each pod namespace. */
export async function listeningSockets(
  req: TraceRequest,
  spaces: readonly string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const proto = req.target.proto;
  await Promise.all(
    spaces.map(async (ns) => {
      if (proto === 'icmp') return out.set(ns, "the kernel's ICMP echo responder");
      const ports = [...new Set([req.target.port, ...req.target.endpoints.map((e) => e.port)])];
      const filter = ports.flatMap((p, i) => [...(i ? ['or'] : []), 'sport', '=', `:${p}`]);
      const r = await exec([
        'nsenter',
        `--net=/run/netns/${ns}`,
        'ss',
        '-Hlnp',
        proto === 'udp' ? '-u' : '-t',
        ...filter,
      ]);
      const line = r.stdout.trim().split('\n')[0] ?? '';
      const local = line.split(/\s+/)[3];
      const user = /users:\(\("([^"]+)",pid=(\d+)/.exec(line);
      out.set(
        ns,
        local
          ? `${local}${user ? ` (${user[1]}, pid ${user[2]})` : ''}`
          : `the kernel: nothing listens on :${ports.join(', :')}`,
      );
    }),
  );
  return out;
}
