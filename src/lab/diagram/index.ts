import type { Cluster } from '../../model/resolve.js';
import { renderDiagramSvg, type TraceStep } from '../../render/diagram-svg.js';
import type { Hop } from '../trace/hops.js';
import { anchorOf, topologyGraph } from './graph.js';
import { layoutTopology } from './layout.js';

/** What of a trace the diagram draws (a `lab trace --json` report has all of it). */
export interface DrawnTrace {
  readonly from: string;
  readonly to: string;
  readonly probe: { readonly verdict: string };
  readonly request: readonly Hop[];
  readonly reply: readonly Hop[];
  readonly answer?: { readonly answer: string };
}

/** The lab's topology as SVG, with a trace's observed hops drawn on it as a numbered path. */
export async function diagramSvg(cluster: Cluster, lab: string, trace?: DrawnTrace): Promise<string> {
  const laid = await layoutTopology(topologyGraph(cluster, lab));
  const steps: TraceStep[] = [];
  for (const [direction, hops] of [
    ['request', trace?.request ?? []],
    ['reply', trace?.reply ?? []],
  ] as const)
    for (const h of hops) {
      if (!h.seen) continue;
      const anchor = anchorOf(cluster, h.place, h.layer);
      if (anchor)
        steps.push({
          n: h.n,
          anchor,
          direction,
          text: `${direction} ${h.place}${h.layer === 'outer' ? ' (outer)' : ''}: ${h.actions.join('; ')}`,
          ...(h.drop ? { bad: true } : {}),
        });
    }
  const caption = trace
    ? `trace ${trace.from} → ${trace.to}: ${trace.probe.verdict}${trace.answer ? ` — ${trace.answer.answer}` : ''}`
    : undefined;
  return renderDiagramSvg(laid, steps, caption);
}
