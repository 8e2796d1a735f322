import { formatInspection, inspectLab } from '../lab/inspect.js';
import { loadLab } from '../lab/load.js';
import { requireRoot } from '../lab/preflight.js';

/** `podnet lab inspect [--json]`: what each node's cross-node backend installed, and the overhead on the wire. */
export async function inspectCommand(lab: string, json: boolean): Promise<number> {
  requireRoot('podnet lab inspect');
  const r = await inspectLab(loadLab(lab));
  console.log(json ? JSON.stringify(r, null, 2) : formatInspection(r));
  return 0;
}
