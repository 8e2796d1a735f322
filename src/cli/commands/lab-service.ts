import { defineCommand, labName, NAME_FLAG, NAME_HELP } from '../command.js';

const VERBOSE = { verbose: { type: 'boolean', short: 'v', default: false } } as const;
const VERBOSE_HELP = '  -v, --verbose       print each command as it runs';

export const labServiceAdd = defineCommand({
  name: 'lab service add',
  summary: 'add or change a Service (from a manifest or from flags) and sync every node',
  help: `usage: podnet lab service add [--name LAB] -f SERVICE.yaml
       podnet lab service add [--name LAB] NAME --selector k=v[,k=v] --port PORT[:TARGET][/udp]
                              [--cluster-ip IP] [--node-port N] [--affinity] [--internal-local]

${NAME_HELP}
  -f, --file FILE       Kubernetes Service manifest(s) (docs/services.md)
  --selector k=v,...    the pods it selects (by label)
  --port P[:T][/udp]    service port, target port (default: the same) and protocol (default: tcp)
  --cluster-ip IP       pin the ClusterIP (default: the next free one in the service CIDR)
  --node-port N         also a NodePort on every node (type NodePort)
  --affinity            sessionAffinity: ClientIP
  --internal-local      internalTrafficPolicy: Local
${VERBOSE_HELP}`,
  options: {
    ...NAME_FLAG,
    file: { type: 'string', short: 'f' },
    selector: { type: 'string' },
    port: { type: 'string' },
    'cluster-ip': { type: 'string' },
    'node-port': { type: 'string' },
    affinity: { type: 'boolean' },
    'internal-local': { type: 'boolean' },
    ...VERBOSE,
  },
  positionals: true,
  async run({ values, positionals }) {
    const { serviceCommand } = await import('../service.js');
    return serviceCommand(labName(values.name), ['add', ...positionals], values);
  },
});

export const labServiceRemove = defineCommand({
  name: 'lab service remove',
  summary: 'remove Services and sync every node',
  help: `usage: podnet lab service remove [--name LAB] NAME|NAMESPACE/NAME...

${NAME_HELP}
${VERBOSE_HELP}`,
  options: { ...NAME_FLAG, ...VERBOSE },
  positionals: true,
  async run({ values, positionals }) {
    const { serviceCommand } = await import('../service.js');
    return serviceCommand(labName(values.name), ['remove', ...positionals], values);
  },
});

export const labServiceList = defineCommand({
  name: 'lab service list',
  summary: "a lab's Services with their ClusterIPs, ports and endpoints",
  help: `usage: podnet lab service list [--name LAB] [--json]

${NAME_HELP}
  --json              print JSON, kind ServiceList (schema in docs/lab.md)

exit codes: 0 ok, 1 no such lab (with --json: a ServiceList with "exists": false)`,
  options: { ...NAME_FLAG, json: { type: 'boolean', default: false } },
  async run({ values }) {
    const lab = labName(values.name);
    const { withLab } = await import('../read.js');
    return withLab('ServiceList', lab, values.json, async () => {
      const { serviceCommand } = await import('../service.js');
      return serviceCommand(lab, ['list'], values);
    });
  },
});
