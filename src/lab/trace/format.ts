import type { Hop } from './hops.js';
import type { TraceReport } from './run.js';

/**
 * The trace as people read it: the probe's verdict, then numbered hops for the request and the reply — where
 * (place, interfaces in → out), what happened, and what the model expected there — then the answer when the
 * probe did not get through, and every difference between expectation and observation.
 */
export function formatTrace(r: TraceReport): string {
  const out: string[] = [];
  const p = r.probe;
  out.push(
    `trace ${r.from} → ${r.to}: ${r.target} (${r.dst.ip}${r.proto === 'icmp' ? '' : `:${r.dst.port}`}), ${r.proto}, from ${r.client.ip}${r.proto === 'icmp' ? ` id ${r.client.sport}` : `:${r.client.sport}`}`,
  );
  out.push(
    `probe: ${p.verdict}${p.answer ? ` "${p.answer}"` : ''}${p.error ? ` (${p.error})` : ''} in ${p.ms} ms${r.endpoint ? `; endpoint ${r.endpoint}` : ''}`,
  );
  if (!r.observed) return `${out.join('\n')}\n(not observed: --no-observe)\n`;
  const section = (title: string, hops: Hop[]) => {
    if (!hops.length) return;
    out.push('', title);
    for (const h of hops) {
      const num = h.seen ? `${String(h.n).padStart(2)}.` : ' --';
      const where = `${h.place}${h.layer === 'outer' ? ' (outer)' : ''}`;
      const ifs = h.seen ? `${h.in ?? '·'} → ${h.out ?? '·'}` : '';
      out.push(`${num} ${where.padEnd(18)} ${ifs.padEnd(24)} ${h.actions.join('; ')}`);
      if (h.expected)
        out.push(`    ${''.padEnd(18)} ${'expected:'.padEnd(24)} ${h.expected}${h.seen ? ' ✓' : ' ✗'}`);
      else if (!h.onPath)
        out.push(`    ${''.padEnd(18)} ${'expected:'.padEnd(24)} (not on the expected path) ✗`);
    }
  };
  section('request', r.request);
  section('reply', r.reply);
  if (r.wire) {
    out.push('', `tshark on the underlay switch: ${r.wire.length} VXLAN packet(s) during the probe`);
    for (const w of r.wire)
      out.push(
        `  ${w.outer.src}:${w.outer.sport} → ${w.outer.dst}:${w.outer.dport} VNI ${w.vni}, inner ${w.inner.src}${w.inner.sport ? `:${w.inner.sport}` : ''} → ${w.inner.dst}${w.inner.dport ? `:${w.inner.dport}` : ''}`,
      );
  }
  if (r.answer) out.push('', `answer: ${r.answer.answer}`);
  if (r.findings.length) {
    out.push('', 'differences from the model:');
    for (const f of r.findings) out.push(`  - ${f}`);
  } else out.push('', 'everything seen matches the model');
  out.push(`observed in ${r.namespaces.length} namespaces; trace took ${Math.round(r.ms)} ms`);
  return `${out.join('\n')}\n`;
}
