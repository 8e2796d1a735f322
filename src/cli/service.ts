import { ConfigError } from '../errors.js';
import { loadLab } from '../lab/load.js';
import { LabNames } from '../lab/names.js';
import { takeProxyUses } from '../lab/proxy-uses.js';
import {
  manifestFromFlags,
  recordAdded,
  recordRemoved,
  syncLabServices as syncCentral,
} from '../lab/services.js';
import { readSpecFile } from '../lab/spec-source.js';
import { readDocuments } from '../model/documents.js';
import { serviceKey, servicesByKey } from '../model/service.js';
import { type EndpointSlice, endpointSliceOf } from '../model/service-endpoints.js';
import type { DocWhere } from '../model/strict.js';
import { printJson } from './json.js';

export interface ServiceFlags {
  readonly file?: string | undefined;
  readonly selector?: string | undefined;
  readonly port?: string | undefined;
  readonly 'cluster-ip'?: string | undefined;
  readonly 'node-port'?: string | undefined;
  readonly affinity?: boolean | undefined;
  readonly 'internal-local'?: boolean | undefined;
  readonly json?: boolean | undefined;
  readonly verbose?: boolean | undefined;
}

/** In cluster mode (lab up --agents) services go to etcd and the agents program them; otherwise the lab does. */
async function syncLabServices(
  ...a: Parameters<typeof syncCentral>
): Promise<{ ops: unknown[]; ms: number; partial?: number }> {
  const cluster = await import('../lab/cluster/services.js');
  return cluster.isCluster(a[3]) ? cluster.syncClusterServices(a[1], a[3]) : syncCentral(...a);
}

/** `podnet lab service …`: changes the lab's services and syncs every node's proxy (partial syncs). */
export async function serviceCommand(lab: string, args: readonly string[], f: ServiceFlags): Promise<number> {
  const [action, ...rest] = args;
  const l = loadLab(lab);
  const names = new LabNames(lab);
  switch (action) {
    case 'add': {
      let docs: unknown[];
      let wheres: DocWhere[] = [];
      let source = 'command line';
      if (f.file) {
        const r = readSpecFile(f.file);
        source = r.source;
        const read = readDocuments(r.text ?? '', source);
        wheres = read;
        docs = read.map((d) => d.doc);
      } else {
        const [name, ...extra] = rest;
        if (!name || extra.length)
          throw new ConfigError(
            [
              {
                path: 'command line',
                message: 'name one service: podnet lab service add NAME --selector … --port …',
              },
            ],
            'command line',
          );
        docs = [
          manifestFromFlags({
            name,
            ...(f.selector ? { selector: f.selector } : {}),
            ...(f.port ? { port: f.port } : {}),
            ...(f['cluster-ip'] ? { clusterIP: f['cluster-ip'] } : {}),
            ...(f['node-port'] ? { nodePort: f['node-port'] } : {}),
            affinity: f.affinity ?? false,
            internalLocal: f['internal-local'] ?? false,
          }),
        ];
      }
      // Taken before the edit is recorded: a command that dies now leaves the next one nothing to trust.
      const records = takeProxyUses(l.state);
      const specs = recordAdded(l.state, docs, wheres, source);
      const after = loadLab(lab).cluster;
      const touch = { services: specs.map(serviceKey) };
      const r = await syncLabServices(l.cluster, after, touch, l.state, names, records, {
        verbose: f.verbose ?? false,
      });
      const byKey = servicesByKey(after.services);
      for (const s of specs) {
        const v = byKey.get(serviceKey(s))!;
        console.log(
          `service ${serviceKey(v)} ${v.clusterIP} ${describeEndpoints(endpointSliceOf(v, after.pods))}`,
        );
      }
      console.log(
        `synced ${after.nodes.length} node(s) in ${Math.round(r.ms)} ms (${r.ops.length} op(s))${partly(r.partial)}`,
      );
      return 0;
    }
    case 'remove': {
      if (rest.length === 0)
        throw new ConfigError(
          [{ path: 'command line', message: 'name the service(s) to remove' }],
          'command line',
        );
      const keys = rest.map((k) => (k.includes('/') ? k : `default/${k}`));
      const records = takeProxyUses(l.state);
      recordRemoved(l.state, l.cluster, keys);
      const after = loadLab(lab).cluster;
      const r = await syncLabServices(l.cluster, after, { services: keys }, l.state, names, records, {
        verbose: f.verbose ?? false,
      });
      console.log(
        `removed ${keys.join(', ')}; synced ${after.nodes.length} node(s) in ${Math.round(r.ms)} ms${partly(r.partial)}`,
      );
      return 0;
    }
    case 'list': {
      const rows = l.cluster.services.map((s) => ({
        service: serviceKey(s),
        clusterIP: s.clusterIP.toString(),
        type: s.type,
        ports: s.ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol}`),
        endpointSlice: endpointSliceOf(s, l.cluster.pods),
      }));
      if (f.json)
        printJson('ServiceList', {
          lab,
          exists: true,
          services: rows.map((r) => ({
            service: r.service,
            clusterIP: r.clusterIP,
            type: r.type,
            ports: r.ports,
            endpoints: r.endpointSlice.endpoints.map((e) => ({
              pod: e.targetRef.name,
              address: e.addresses[0],
              node: e.nodeName,
              ready: e.conditions.ready,
            })),
          })),
        });
      else
        for (const r of rows)
          console.log(
            `${r.service.padEnd(24)} ${r.clusterIP.padEnd(15)} ${r.type.padEnd(9)} ${r.ports.join(',').padEnd(14)} ${describeEndpoints(r.endpointSlice)}`,
          );
      return 0;
    }
    default:
      throw new ConfigError(
        [
          {
            path: 'command line',
            message: `unknown service command '${action ?? ''}'; one of: add, remove, list`,
          },
        ],
        'command line',
      );
  }
}

/** How many nodes' proxies changed from the touched Services alone (the rest were observed and synced whole). */
const partly = (n: number | undefined) => (n ? `; ${n} from the touched service(s) alone` : '');

function describeEndpoints(slice: EndpointSlice): string {
  const eps = slice.endpoints;
  return eps.length
    ? `-> ${eps.map((e) => `${e.targetRef.name}(${e.addresses[0]}@${e.nodeName})`).join(' ')}`
    : '-> no endpoints';
}
