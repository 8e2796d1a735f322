import type { TrackedFlow } from '../plan/policy/cut.js';

/**
 * `conntrack -L` output, parsed: one flow per line, the first src/dst/sport/dport being the original
 * direction and the second the reply, e.g.
 * `tcp 6 431999 ESTABLISHED src=10.200.0.2 dst=10.96.0.2 sport=40000 dport=80 src=10.200.1.2 dst=10.200.0.2
 * sport=8080 dport=40000 [ASSURED] mark=0 use=1`. Protocols other than TCP, UDP and SCTP are skipped.
 */
export function parseConntrack(text: string): TrackedFlow[] {
  const out: TrackedFlow[] = [];
  for (const line of text.split('\n')) {
    const proto = line.trim().split(/\s+/, 1)[0];
    if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') continue;
    const fields: Record<string, string[]> = {};
    for (const m of line.matchAll(/\b(src|dst|sport|dport)=(\S+)/g))
      fields[m[1]!] = [...(fields[m[1]!] ?? []), m[2]!];
    const src = fields.src?.[0];
    const replySrc = fields.src?.[1];
    const replyPort = Number(fields.sport?.[1]);
    if (!src || !replySrc || !Number.isInteger(replyPort)) continue;
    const state = proto === 'tcp' ? line.trim().split(/\s+/)[3] : undefined;
    out.push({ protocol: proto, src, replySrc, replyPort, ...(state ? { state } : {}) });
  }
  return out;
}
