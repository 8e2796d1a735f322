/** Structured logs: one JSON object per line on stdout (`ts`, `level`, `msg`, then fields). */
export type Logger = (
  level: 'info' | 'warn' | 'error',
  msg: string,
  fields?: Record<string, unknown>,
) => void;

export function jsonLogger(write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  return (level, msg, fields = {}) =>
    write(`${JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields })}\n`);
}
