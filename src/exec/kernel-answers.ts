import { CommandError, KernelError } from '../errors.js';
import { EEXIST, ENODEV, ENOENT, ESRCH } from './netlink/errno.js';

/** Kernel answers classified once, here, so no other module matches on error text. */
export function isNotFound(err: unknown): boolean {
  if (err instanceof KernelError) return [ENOENT, ESRCH, ENODEV].includes(err.errno);
  return (
    err instanceof CommandError &&
    /Cannot find device|No such file or directory|does not exist|No such process|not found/i.test(err.stderr)
  );
}

export function isAlreadyExists(err: unknown): boolean {
  if (err instanceof KernelError) return err.errno === EEXIST;
  return err instanceof CommandError && /File exists|already exists/i.test(err.stderr);
}

/** `conntrack -D` found nothing to delete (exit 1): for a sync that only wants the entries gone, success. */
export function isNothingToDelete(err: unknown): boolean {
  return err instanceof CommandError && /0 flow entries have been deleted/.test(err.stderr);
}

/** `conntrack -D` raced with the flow's own end: the entry it listed was gone when it came to delete it. */
export function isFlowGone(err: unknown): boolean {
  return err instanceof CommandError && /such conntrack doesn't exist/.test(err.stderr);
}
