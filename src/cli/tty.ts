/**
 * Terminal manners, as git, kubectl and cargo have them: colour only when the stream is a terminal and
 * `NO_COLOR` is unset (https://no-color.org) and TERM is not `dumb`; progress lines only on a terminal stderr,
 * so pipes, files and scripts get exactly the text and nothing else.
 */

import { fstatSync } from 'node:fs';
import { format } from 'node:util';
import { writeFully } from '../cni/host.js';

interface Stream {
  readonly isTTY?: boolean;
  write(s: string): boolean;
}

/** Whether to colour what goes to `stream`. */
export function colorEnabled(stream: Stream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

const GREEN = '\x1b[32m';
const RED = '\x1b[31m';
const BOLD = '\x1b[1m';
const RESET = '\x1b[0m';

/** Colours the marks of human output: ✓ green, ✗ red, `N failed` red when N > 0. Unchanged without colour. */
export function paint(text: string, color: boolean): string {
  if (!color) return text;
  return (
    text
      // Escaped: the CLI bundle stays pure ASCII, which V8 reads and keeps as a one-byte string (half the size).
      .replace(/\u2713/g, `${GREEN}\u2713${RESET}`)
      .replace(/\u2717/g, `${RED}\u2717${RESET}`)
      .replace(/\b([1-9]\d*) failed\b/g, `${RED}${BOLD}$1 failed${RESET}`)
  );
}

/**
 * Whether fd `n` is a terminal: a character device of the tty (4), console (5) or pty (136-143) majors.
 * Not node:tty's isatty, whose module loads net and streams (most of a `--help`'s own time).
 */
export function isTerminal(n: number): boolean {
  try {
    const st = fstatSync(n);
    if (!st.isCharacterDevice()) return false;
    const major = (st.rdev >> 8) & 0xfff;
    return major === 4 || major === 5 || (major >= 136 && major <= 143);
  } catch {
    return false;
  }
}

/** fd 1 and 2 as colorEnabled sees them, without building process.stdout/stderr (see directConsole). */
const fd = (n: 1 | 2): Stream => ({ isTTY: isTerminal(n), write: () => true });

/** Prints human output on stdout, coloured when stdout is a terminal. */
export function say(text: string): void {
  console.log(paint(text, colorEnabled(fd(1))));
}

/** The `podnet:` prefix of error messages, red on a terminal. */
export function errorPrefix(): string {
  return colorEnabled(fd(2)) ? `${RED}podnet:${RESET}` : 'podnet:';
}

/**
 * console.log and console.error as plain write(2) calls. process.stdout and process.stderr build a stream on
 * first use, which loads Node's stream modules: several ms of every short command (`--help`, a refused file),
 * as for the CNI plugin (src/cni/host.ts writeFully).
 */
export function directConsole(): void {
  console.log = (...args: unknown[]) => writeFully(1, `${format(...args)}\n`);
  console.error = (...args: unknown[]) => writeFully(2, `${format(...args)}\n`);
}

/**
 * Shows `what… N.N s` on stderr while work runs, when stderr is a terminal (nothing otherwise: no stray lines
 * in logs). The first line appears after a second, so quick work prints nothing. Returns the function that
 * clears it.
 */
export function progress(what: string, stream: Stream = process.stderr, delayMs = 1000): () => void {
  if (!stream.isTTY) return () => {};
  const started = Date.now();
  let shown = false;
  const draw = () => {
    shown = true;
    stream.write(`\r\x1b[2K${what}… ${((Date.now() - started) / 1000).toFixed(1)} s`);
  };
  let timer: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    draw();
    timer = setInterval(draw, 200);
    timer.unref();
  }, delayMs);
  first.unref();
  return () => {
    clearTimeout(first);
    if (timer) clearInterval(timer);
    if (shown) stream.write('\r\x1b[2K');
  };
}
