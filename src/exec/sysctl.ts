import { writeFileSync } from 'node:fs';

/**
 * `sysctl -w key=value` without the process: a write to /proc/sys. /proc/sys/net shows the network namespace
 * of the process that opens it, so this sets the value for our own namespace only.
 */
export function writeOwnSysctl(key: string, value: string): void {
  writeFileSync(`/proc/sys/${key.replaceAll('.', '/')}`, value);
}
