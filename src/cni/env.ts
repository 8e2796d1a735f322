import { isAbsolute } from 'node:path';
import { ifnameProblem } from '../net/ifname.js';
import { CNI_ERR, CniError } from './errors.js';

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'] as const;
export type CniCommand = (typeof COMMANDS)[number];

/** The invocation, from the CNI_* environment variables, validated. */
export interface CniEnv {
  readonly command: CniCommand;
  readonly containerId: string;
  /** Empty for DEL when the runtime no longer has the namespace (containerd's second DEL). */
  readonly netns: string;
  readonly ifname: string;
  /** CNI_ARGS as key/value pairs (K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID, …). */
  readonly args: ReadonlyMap<string, string>;
  readonly path: readonly string[];
}

/** libcni's rule for container IDs: no path separators, no shell metacharacters. */
export const CONTAINER_ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/**
 * Netns paths end up in argv and in `ip -batch` lines (which split on blanks and quotes): accept absolute paths of
 * plain characters only.
 */
const NETNS_PATH_RE = /^\/[A-Za-z0-9_.:@+=,/-]*$/;

const NEEDS: Record<CniCommand, readonly ('CNI_CONTAINERID' | 'CNI_NETNS' | 'CNI_IFNAME')[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
  STATUS: [],
  GC: [],
  VERSION: [],
};

/** Reads and checks the CNI_* variables; every problem is listed in one error with the spec's code 4. */
export function parseEnv(env: NodeJS.ProcessEnv): CniEnv {
  const raw = env.CNI_COMMAND ?? '';
  if (!(COMMANDS as readonly string[]).includes(raw))
    throw new CniError(
      CNI_ERR.INVALID_ENV,
      `CNI_COMMAND '${raw}' is not a CNI verb; expected one of ${COMMANDS.join(', ')}`,
    );
  const command = raw as CniCommand;
  const issues: string[] = [];
  for (const k of NEEDS[command]) if (!env[k]) issues.push(`${k} is required for ${command}`);
  const containerId = env.CNI_CONTAINERID ?? '';
  if (containerId && !CONTAINER_ID_RE.test(containerId))
    issues.push(
      `CNI_CONTAINERID '${containerId}' may only contain letters, digits, '_', '.' and '-' (and must start with a letter or digit)`,
    );
  const ifname = env.CNI_IFNAME ?? '';
  const ip = ifname ? ifnameProblem(ifname) : undefined;
  if (ip) issues.push(`CNI_IFNAME '${ifname}' ${ip}`);
  const netns = env.CNI_NETNS ?? '';
  if (netns && (!isAbsolute(netns) || !NETNS_PATH_RE.test(netns) || netns.includes('/../')))
    issues.push(`CNI_NETNS '${netns}' must be an absolute path of plain characters`);
  let args = new Map<string, string>();
  try {
    args = parseCniArgs(env.CNI_ARGS ?? '');
  } catch (e) {
    issues.push((e as Error).message);
  }
  if (issues.length > 0)
    throw new CniError(
      CNI_ERR.INVALID_ENV,
      `invalid CNI environment: ${issues.join('; ')}`,
      issues.join('\n'),
    );
  return {
    command,
    containerId,
    netns,
    ifname,
    args,
    path: (env.CNI_PATH ?? '').split(':').filter(Boolean),
  };
}

/** `K=V;K2=V2` → map. An element without `=` is an error (libcni does the same). */
export function parseCniArgs(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`CNI_ARGS element '${part}' is not KEY=VALUE`);
    out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}
