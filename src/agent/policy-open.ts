import type { AgentConfig } from './config.js';
import type { Logger } from './log.js';
import { AgentPolicy } from './policy.js';
import { KubePolicyFeed, KvPolicyFeed } from './policy-feeds.js';
import { EtcdKv, type EtcdTls } from './store/etcd-kv.js';
import { KubeClient } from './store/kube-client.js';
import { inClusterTarget, loadKubeconfig } from './store/kube-config.js';

/**
 * The agent's NetworkPolicy part for its datastore: the API's objects, or etcd's `<prefix>/policy/` keys (on
 * a connection of its own, with the same TLS files as the store's).
 */
export function policyOption(c: AgentConfig, log: Logger, tls?: EtcdTls): { policy?: AgentPolicy } {
  if (c.datastore === 'kubernetes') {
    const target = c.kubeconfig ? loadKubeconfig(c.kubeconfig) : inClusterTarget();
    return { policy: new AgentPolicy(c.node, new KubePolicyFeed(new KubeClient(target)), log) };
  }
  if (c.datastore === 'etcd')
    return {
      policy: new AgentPolicy(
        c.node,
        new KvPolicyFeed(new EtcdKv(c.etcdEndpoints, tls ? { tls } : {}), c.etcdPrefix),
        log,
      ),
    };
  return {};
}
