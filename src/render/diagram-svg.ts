/**
 * SVG of a laid-out topology (pure): nested boxes (nodes holding their devices and pods), edges by kind (veth
 * solid, underlay cable thick, tunnel dashed, service dotted), and optionally a trace drawn over it as a
 * numbered path — request in red, reply in blue — through the boxes its hops happened in.
 */

export interface DiagramShape {
  readonly id: string;
  readonly kind: string;
  readonly lines: readonly string[];
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly depth: number;
}

export interface DiagramEdge {
  readonly id: string;
  readonly kind: string;
  readonly label?: string;
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

export interface LaidOut {
  readonly title: string;
  readonly width: number;
  readonly height: number;
  readonly shapes: readonly DiagramShape[];
  readonly edges: readonly DiagramEdge[];
}

/** One numbered step of a trace, placed on a shape. */
export interface TraceStep {
  readonly n: number;
  readonly anchor: string;
  readonly direction: 'request' | 'reply';
  readonly text: string;
  readonly bad?: boolean;
}

const FILL: Record<string, string> = {
  node: '#f4f6fb',
  pod: '#e3f2e1',
  bridge: '#fff4d6',
  uplink: '#e8eaf0',
  tunnel: '#f3e5f5',
  switch: '#dfe7f2',
  router: '#dfe7f2',
  outside: '#fde2e1',
  service: '#e1f0fb',
};
const STROKE: Record<string, string> = {
  veth: '#444',
  cable: '#1f3b73',
  tunnel: '#8e44ad',
  service: '#2a7ab8',
};
const DASH: Record<string, string> = { tunnel: '6 4', service: '2 3' };

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function renderDiagramSvg(d: LaidOut, steps: readonly TraceStep[] = [], caption?: string): string {
  const top = 34;
  const extra = steps.length ? 18 * (steps.length + 2) : 0;
  const longest = Math.max(
    d.title.length,
    caption?.length ?? 0,
    ...steps.map((s) => `${s.n}. ${s.text}`.length),
  );
  const W = Math.ceil(Math.max(d.width + 60, 640, longest * 7.3)) + 20;
  const H = Math.ceil(d.height) + top + extra + 20;
  const o: string[] = [];
  o.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans Mono, monospace" font-size="12">`,
    '<rect width="100%" height="100%" fill="#fff"/>',
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(d.title)}</text>`,
    `<g transform="translate(10 ${top})">`,
  );
  for (const s of [...d.shapes].sort((a, b) => a.depth - b.depth)) {
    o.push(
      `<g class="box ${s.kind}" data-id="${esc(s.id)}"><rect x="${s.x}" y="${s.y}" width="${s.width}" height="${s.height}" rx="5" fill="${FILL[s.kind] ?? '#fff'}" stroke="#667" stroke-width="${s.kind === 'node' ? 1.5 : 1}"/>`,
    );
    s.lines.forEach((l, i) => {
      o.push(
        `<text x="${s.x + 8}" y="${s.y + 17 + i * 16}"${i === 0 ? ' font-weight="bold"' : ''}>${esc(l)}</text>`,
      );
    });
    o.push('</g>');
  }
  for (const e of d.edges) {
    const pts = e.points.map((p) => `${p.x},${p.y}`).join(' ');
    o.push(
      `<polyline class="edge ${e.kind}" data-id="${esc(e.id)}" points="${pts}" fill="none" stroke="${STROKE[e.kind] ?? '#444'}" stroke-width="${e.kind === 'cable' ? 2.5 : 1.3}"${DASH[e.kind] ? ` stroke-dasharray="${DASH[e.kind]}"` : ''}/>`,
    );
    const mid = e.points[Math.floor(e.points.length / 2)];
    if (e.label && mid)
      o.push(`<text x="${mid.x + 4}" y="${mid.y - 3}" font-size="10" fill="#555">${esc(e.label)}</text>`);
  }
  // The trace: a path through the centres of the boxes its hops happened in, each hop numbered.
  const centre = new Map(d.shapes.map((s) => [s.id, { x: s.x + s.width / 2, y: s.y + s.height / 2 }]));
  for (const dir of ['request', 'reply'] as const) {
    const ss = steps.filter((s) => s.direction === dir && centre.has(s.anchor));
    const off = dir === 'request' ? -6 : 6;
    const colour = dir === 'request' ? '#d62728' : '#1f77b4';
    if (ss.length > 1)
      o.push(
        `<polyline class="trace ${dir}" points="${ss.map((s) => `${centre.get(s.anchor)!.x + off},${centre.get(s.anchor)!.y + off}`).join(' ')}" fill="none" stroke="${colour}" stroke-width="3" stroke-opacity="0.75"/>`,
      );
    ss.forEach((s, i) => {
      const c = centre.get(s.anchor)!;
      const dx = off + (i % 3) * 5;
      o.push(
        `<g class="hop ${dir}" data-n="${s.n}"><circle cx="${c.x + dx}" cy="${c.y + off}" r="9" fill="${s.bad ? '#000' : colour}"/><text x="${c.x + dx}" y="${c.y + off + 4}" text-anchor="middle" fill="#fff" font-size="10" font-weight="bold">${s.n}</text></g>`,
      );
    });
  }
  o.push('</g>');
  if (steps.length) {
    let y = top + d.height + 24;
    if (caption) {
      o.push(`<text x="10" y="${y}" font-weight="bold">${esc(caption)}</text>`);
      y += 18;
    }
    for (const s of steps) {
      o.push(
        `<text x="10" y="${y}" fill="${s.bad ? '#000' : s.direction === 'request' ? '#d62728' : '#1f77b4'}">${s.n}. ${esc(s.text)}</text>`,
      );
      y += 18;
    }
  }
  o.push('</svg>');
  return `${o.join('\n')}\n`;
}
