import { resolve } from 'node:path';
import { ConfigError } from '../../errors.js';
import { defineCommand } from '../command.js';

export const cniInstall = defineCommand({
  name: 'cni install',
  summary: 'install podnet as a CNI plugin (one bundled file) and write its conflist (docs/cni.md)',
  help: `usage: podnet cni install [--bin-dir DIR] [--conf-dir DIR] [--name NET] [--subnet CIDR] [--bridge NAME]
                          [--mtu N] [--data-dir DIR] [--ip-masq] [--no-hairpin] [--without-portmap]
                          [--code-cache-dir DIR] [--agent-socket PATH]

  --bin-dir DIR         where the runtime finds plugins (containerd bin_dir; default: /opt/cni/bin)
  --conf-dir DIR        where the runtime finds network configurations (default: /etc/cni/net.d)
  --name NET            the network's name; the conflist is 10-NET.conflist (default: podnet)
  --subnet CIDR         the node's pod subnet, served by host-local style IPAM (default: 10.244.0.0/24)
  --bridge NAME         the node's bridge (default: podnet0)
  --mtu N               MTU of the bridge and pod interfaces, 576-65535 (default: 1500)
  --data-dir DIR        IPAM reservations (default: /var/lib/cni/podnet)
  --ip-masq             masquerade traffic from pods leaving the subnet
  --no-hairpin          turn hairpin mode off on the bridge ports
  --without-portmap     do not chain the reference portmap plugin (hostPort)
  --code-cache-dir DIR  V8's code cache of the plugin (default: /run/podnet/cni)
  --agent-socket PATH   the node agent's CNI socket the plugin hands requests to (default: /run/podnet/cni.sock)`,
  options: {
    'bin-dir': { type: 'string', default: '/opt/cni/bin' },
    'conf-dir': { type: 'string', default: '/etc/cni/net.d' },
    name: { type: 'string', default: 'podnet' },
    subnet: { type: 'string', default: '10.244.0.0/24' },
    bridge: { type: 'string' },
    mtu: { type: 'string' },
    'data-dir': { type: 'string' },
    'ip-masq': { type: 'boolean', default: false },
    'no-hairpin': { type: 'boolean', default: false },
    'without-portmap': { type: 'boolean', default: false },
    'code-cache-dir': { type: 'string' },
    'agent-socket': { type: 'string' },
  },
  async run({ values }) {
    const { DEFAULTS, NAME_RE } = await import('../../cni/config.js');
    const { AGENT_SOCKET, CODE_CACHE_DIR, install } = await import('../../cni/install.js');
    const { ifnameProblem } = await import('../../net/ifname.js');
    const { Cidr } = await import('../../net/ip.js');
    const bridge = values.bridge ?? DEFAULTS.bridge;
    const mtuText = values.mtu ?? String(DEFAULTS.mtu);
    const issues = [];
    if (!NAME_RE.test(values.name))
      issues.push({ path: '--name', message: `'${values.name}' is not a valid network name` });
    if (!Cidr.tryParse(values.subnet))
      issues.push({
        path: '--subnet',
        message: `'${values.subnet}' is not an IPv4 CIDR with zero host bits`,
      });
    const bp = ifnameProblem(bridge);
    if (bp) issues.push({ path: '--bridge', message: `'${bridge}' ${bp}` });
    const mtu = Number(mtuText);
    if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535)
      issues.push({ path: '--mtu', message: `'${mtuText}' must be an integer from 576 to 65535` });
    const agentSocket = resolve(values['agent-socket'] ?? AGENT_SOCKET);
    if (!/^\/[A-Za-z0-9_.:@+=,/-]+$/.test(agentSocket) || agentSocket.length > 107)
      issues.push({
        path: '--agent-socket',
        message: `'${agentSocket}' is not an absolute path of plain characters of at most 107 bytes (a unix socket's limit)`,
      });
    if (issues.length > 0) throw new ConfigError(issues, 'podnet cni install');
    const r = await install({
      binDir: resolve(values['bin-dir']),
      confDir: resolve(values['conf-dir']),
      name: values.name,
      subnet: values.subnet,
      bridge,
      mtu,
      dataDir: resolve(values['data-dir'] ?? DEFAULTS.dataDir),
      ipMasq: values['ip-masq'],
      hairpinMode: !values['no-hairpin'],
      portmap: !values['without-portmap'],
      codeCacheDir: resolve(values['code-cache-dir'] ?? CODE_CACHE_DIR),
      agentSocket,
    });
    console.log(`installed plugin ${r.plugin}\nwrote ${r.conflist}`);
    if (r.warning) console.error(`warning: ${r.warning}`);
    return 0;
  },
});
