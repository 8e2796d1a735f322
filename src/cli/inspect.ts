import { formatInspection, inspectLab } from '../lab/inspect.js';
import { loadLab } from '../lab/load.js';
import { requireRoot } from '../lab/preflight.js';
import { inspectJson, printJson } from './json.js';
import { progress, say } from './tty.js';

/** `podnet lab inspect [--json]`: what each node's cross-node backend installed, and the overhead on the wire. */
export async function inspectCommand(lab: string, json: boolean): Promise<number> {
  requireRoot('podnet lab inspect');
  const done = progress(`inspecting lab ${lab} (capturing a packet on the switch)`);
  const r = await inspectLab(loadLab(lab)).finally(done);
  if (json) printJson('Inspection', inspectJson(r));
  else say(formatInspection(r));
  return 0;
}
