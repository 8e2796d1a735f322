import type { Command } from '../command.js';
import { agent } from './agent.js';
import { cniInstall } from './cni-install.js';
import { cniServe } from './cni-serve.js';
import { labNodeAdd, labNodeRemove, labPodAdd, labPodRemove } from './lab-change.js';
import { labDiagram } from './lab-diagram.js';
import { labDown } from './lab-down.js';
import { labExec } from './lab-exec.js';
import { labExplain } from './lab-explain.js';
import {
  labAgentKill,
  labAgentStart,
  labAgentStop,
  labEtcdStart,
  labEtcdStop,
  labHeal,
  labPartition,
} from './lab-faults.js';
import { labInspect } from './lab-inspect.js';
import { labApiserverStart, labApiserverStop, labKubeconfig } from './lab-kube.js';
import { labList } from './lab-list.js';
import {
  labNamespaceLabel,
  labPodLabel,
  labPolicyApply,
  labPolicyDelete,
  labPolicyWhy,
} from './lab-policy.js';
import { labReconcile } from './lab-reconcile.js';
import { labServiceAdd, labServiceList, labServiceRemove } from './lab-service.js';
import { labStatus } from './lab-status.js';
import { labTrace } from './lab-trace.js';
import { labUi } from './lab-ui.js';
import { labUp } from './lab-up.js';
import { labVerify } from './lab-verify.js';
import { version } from './version.js';

/**
 * Every command of the CLI, in the order `podnet help` lists them. A new command is a new file in this folder
 * plus one row here; `podnet help` (help.ts) and the help test pick it up from the table.
 */
export const COMMANDS: readonly Command[] = [
  labUp,
  labDown,
  labStatus,
  labList,
  labVerify,
  labReconcile,
  labExec,
  labExplain,
  labInspect,
  labTrace,
  labDiagram,
  labUi,
  labKubeconfig,
  labApiserverStop,
  labApiserverStart,
  labServiceAdd,
  labServiceRemove,
  labServiceList,
  labNodeAdd,
  labNodeRemove,
  labPodAdd,
  labPodRemove,
  labPolicyApply,
  labPolicyDelete,
  labPolicyWhy,
  labPodLabel,
  labNamespaceLabel,
  labAgentStop,
  labAgentKill,
  labAgentStart,
  labEtcdStop,
  labEtcdStart,
  labPartition,
  labHeal,
  cniInstall,
  cniServe,
  agent,
  version,
];

/** One line per command group, for `podnet help` and `podnet GROUP --help`. */
export const GROUPS: Readonly<Record<string, string>> = {
  lab: 'a multi-node cluster on this machine: nodes are namespaces on an emulated LAN (docs/lab.md)',
  'lab service': "the lab's Services and their proxies (docs/services.md)",
  'lab node': "change a running lab's nodes",
  'lab pod': "change a running lab's pods",
  'lab policy': "the lab's NetworkPolicies: apply, delete, why (docs/network-policy.md)",
  'lab namespace': "a running lab's namespaces (labels)",
  'lab agent': "stop, kill or start a node's agent (cluster mode: lab up --agents)",
  'lab etcd': "stop or start the lab's etcd (cluster mode)",
  'lab apiserver': "stop or start the lab's kube-apiserver (lab up --agents --datastore kubernetes)",
  cni: 'the CNI plugin for containerd, cnitool and other runtimes (docs/cni.md)',
};
