import { spawn } from 'node:child_process';

/** Runs argv with the terminal attached (stdin/stdout/stderr inherited) and resolves with its exit code. */
export function execInteractive(argv: readonly string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit' });
    child.on('error', () => resolve(127));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
