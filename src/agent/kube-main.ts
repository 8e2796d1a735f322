import type { AgentConfig } from './config.js';
import type { Logger } from './log.js';
import { KubeClient } from './store/kube-client.js';
import { inClusterTarget, loadKubeconfig } from './store/kube-config.js';
import { KubeStore } from './store/kube-store.js';

/**
 * `--datastore kubernetes`: the store on the API server named by --kubeconfig (or the pod's service
 * account), and the hook that sets the Node's NetworkUnavailable condition False after the first sync that
 * programmed its routes (retried after every later sync until the API takes it).
 */
export function openKubeStore(c: AgentConfig, log: Logger): { store: KubeStore; onSynced: () => void } {
  const target = c.kubeconfig ? loadKubeconfig(c.kubeconfig) : inClusterTarget();
  const store = new KubeStore(new KubeClient(target), {
    // A DaemonSet passes its own namespace (downward API): the ConfigMap ships next to it.
    ...(process.env.POD_NAMESPACE ? { configNamespace: process.env.POD_NAMESPACE } : {}),
    onInvalid: (what, message) => log('warn', 'unreadable object skipped', { object: what, error: message }),
  });
  let marked = false;
  let busy = false;
  const onSynced = () => {
    if (marked || busy) return;
    busy = true;
    store
      .markNetworkAvailable(c.node)
      .then((changed) => {
        marked = true;
        if (changed) log('info', 'Node condition NetworkUnavailable set False', { node: c.node });
      })
      .catch((e: Error) =>
        log('warn', 'could not set NetworkUnavailable False; retrying after the next sync', {
          error: e.message,
        }),
      )
      .finally(() => {
        busy = false;
      });
  };
  log('info', 'datastore: Kubernetes API', { server: target.server, credentials: target.source });
  return { store, onSynced };
}
