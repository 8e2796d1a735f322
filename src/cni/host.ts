import { readFileSync, statfsSync, writeSync } from 'node:fs';

/**
 * Observations the plugin makes without spawning anything (start-up cost matters: every spawn is a few ms).
 * `/proc/net/dev` lists the links of the *reading process's* network namespace, which is the node namespace
 * the runtime runs us in; `/sys/class/net` would show the namespace /sys was mounted from instead.
 */
export function linkNames(): Set<string> {
  const names = new Set<string>();
  const text = readFileSync('/proc/net/dev', 'utf8');
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon > 0) names.add(line.slice(0, colon).trim());
  }
  return names;
}

/** nsfs's magic number (linux/magic.h NSFS_MAGIC): namespace files, bind-mounted or under /proc/PID/ns. */
const NSFS_MAGIC = 0x6e736673;

/** Whether `path` is a namespace file (it may still be a namespace of another type; the kernel then refuses). */
export function isNamespaceFile(path: string): boolean {
  try {
    return statfsSync(path).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * Writes all of `text` to fd 1 or 2 with write(2). process.stdout/stderr would build a stream object on first
 * use, and for a pipe that loads the net module: 4–13 ms per invocation on this kind of machine. A
 * non-blocking pipe that is full (EAGAIN) is waited for, briefly.
 */
export function writeFully(fd: 1 | 2, text: string): void {
  let buf: Uint8Array = Buffer.from(text, 'utf8');
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}
