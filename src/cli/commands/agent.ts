import { defineCommand } from '../command.js';

export const agent = defineCommand({
  name: 'agent',
  summary:
    "the node agent: a subnet lease in etcd, peers' routes and the service proxy on this node (docs/agent.md)",
  help: `usage: podnet agent --node NAME --datastore etcd --etcd-endpoints URL[,URL...] [flags]

Runs until SIGTERM. Takes this node's subnet lease, keeps it renewed, watches the store and programs this
node's kernel (bridge, routes/tunnel entries to every other node, service proxy), and writes the CNI conflist.
Every flag can also come from --config FILE (YAML or JSON, the same names in camelCase); flags win.

  --node NAME                this node's name (the key of its lease)
  --datastore etcd           where the shared state lives
  --datastore kubernetes     the Kubernetes API: Node podCIDR and annotations, Services, EndpointSlices
  --kubeconfig FILE          with kubernetes: the API server and credentials (default: in-cluster account)
  --etcd-endpoints URLS      etcd client URLs, comma-separated (http://10.0.0.1:2379)
  --etcd-prefix PREFIX       key prefix (default /podnet)
  --etcd-cafile FILE         etcd over TLS (https:// endpoints): the CA of etcd's certificate
  --etcd-certfile FILE       this client's certificate (etcd --client-cert-auth), with --etcd-keyfile
  --etcd-keyfile FILE        its private key
  --backend TYPE             host-gw, vxlan or ipip: refuse a cluster network config of another backend
  --proxy MODE               nftables (default), iptables or none
  --iface IF                 the uplink; its IPv4 address is the node's public IP (default eth0)
  --public-ip IP             override the uplink's address
  --listen HOST:PORT         /healthz and /metrics (default 127.0.0.1:9653)
  --resync-seconds N         full resync period (default 30)
  --lease-ttl-seconds N      subnet lease TTL, renewed every quarter of it (default 60)
  --cni-conf-dir DIR         where the conflist goes (default /etc/cni/net.d)
  --cni-conf-name FILE       its name (default 10-podnet.conflist)
  --cni-data-dir DIR         the plugin's IPAM reservations (default /var/lib/cni/podnet)
  --cni-socket PATH          answer the CNI plugin warm here (default /run/podnet/cni.sock; none: off)
  --cni-bin-dir DIR          where podnet cni install put the plugin (its addon; default /opt/cni/bin)
  --state-dir DIR            the agent's own files (default /var/lib/podnet/agent)
  --config FILE              read settings from FILE`,
  options: {
    node: { type: 'string' },
    datastore: { type: 'string' },
    'etcd-endpoints': { type: 'string' },
    kubeconfig: { type: 'string' },
    'etcd-prefix': { type: 'string' },
    'etcd-cafile': { type: 'string' },
    'etcd-certfile': { type: 'string' },
    'etcd-keyfile': { type: 'string' },
    backend: { type: 'string' },
    proxy: { type: 'string' },
    iface: { type: 'string' },
    'public-ip': { type: 'string' },
    listen: { type: 'string' },
    'resync-seconds': { type: 'string' },
    'lease-ttl-seconds': { type: 'string' },
    'cni-conf-dir': { type: 'string' },
    'cni-conf-name': { type: 'string' },
    'cni-data-dir': { type: 'string' },
    'cni-socket': { type: 'string' },
    'cni-bin-dir': { type: 'string' },
    'state-dir': { type: 'string' },
    config: { type: 'string' },
  },
  async run({ values }) {
    const { readFileSync } = await import('node:fs');
    const { ConfigError } = await import('../../errors.js');
    const { parseAgentConfig } = await import('../../agent/config.js');
    let file: { text: string; source: string } | undefined;
    if (values.config !== undefined) {
      try {
        file = { text: readFileSync(values.config, 'utf8'), source: values.config };
      } catch (e) {
        throw new ConfigError(
          [{ path: '--config', message: `cannot read '${values.config}': ${(e as Error).message}` }],
          'agent configuration',
        );
      }
    }
    const config = parseAgentConfig(
      {
        node: values.node,
        datastore: values.datastore,
        etcdEndpoints: values['etcd-endpoints'],
        kubeconfig: values.kubeconfig,
        etcdPrefix: values['etcd-prefix'],
        etcdCAFile: values['etcd-cafile'],
        etcdCertFile: values['etcd-certfile'],
        etcdKeyFile: values['etcd-keyfile'],
        backend: values.backend,
        proxy: values.proxy,
        iface: values.iface,
        publicIP: values['public-ip'],
        listen: values.listen,
        resyncSeconds: values['resync-seconds'],
        leaseTTLSeconds: values['lease-ttl-seconds'],
        cniConfDir: values['cni-conf-dir'],
        cniConfName: values['cni-conf-name'],
        cniDataDir: values['cni-data-dir'],
        cniSocket: values['cni-socket'],
        cniBinDir: values['cni-bin-dir'],
        stateDir: values['state-dir'],
      },
      file,
    );
    const { runAgent } = await import('../../agent/main.js');
    return runAgent(config);
  },
});
