import type { AgentConfig } from './config.js';
import type { Logger } from './log.js';
import { AgentPolicy } from './policy.js';
import { KubePolicyFeed, KvPolicyFeed } from './policy-feeds.js';
import { EtcdKv } from './store/etcd-kv.js';
import { KubeClient } from './store/kube-client.js';
import { inClusterTarget, loadKubeconfig } from './store/kube-config.js';

/** The agent's NetworkPolicy part for its datastore: the API's objects, or etcd's `<prefix>/policy/` keys. */
export function policyOption(c: AgentConfig, log: Logger): { policy?: AgentPolicy } {
  if (c.datastore === 'kubernetes') {
    const target = c.kubeconfig ? loadKubeconfig(c.kubeconfig) : inClusterTarget();
    return { policy: new AgentPolicy(c.node, new KubePolicyFeed(new KubeClient(target)), log) };
  }
  if (c.datastore === 'etcd')
    return {
      policy: new AgentPolicy(c.node, new KvPolicyFeed(new EtcdKv(c.etcdEndpoints), c.etcdPrefix), log),
    };
  return {};
}
