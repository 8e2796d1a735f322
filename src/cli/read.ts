import { StateError } from '../errors.js';
import { missingLab, printJson } from './json.js';

/**
 * Runs a read command on lab `lab` once it is known to exist. A missing lab is exit 1: an error on stderr, or
 * with `--json` a document of the command's kind that says so (`exists: false`) on stdout. Only the state file
 * is read to decide, so the answer comes before any lab code is loaded.
 */
export async function withLab(
  kind: string,
  lab: string,
  json: boolean,
  run: () => Promise<number>,
): Promise<number> {
  const { LabState } = await import('../lab/state.js');
  const state = new LabState(lab);
  if (state.record) return run();
  const message = `no lab named '${lab}' (no state in ${state.dir}); start one with 'podnet lab up --name ${lab}'`;
  if (!json) throw new StateError(message);
  printJson(kind, missingLab(lab, message));
  return 1;
}
