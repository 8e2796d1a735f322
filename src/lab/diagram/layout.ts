import elkBundle from 'elkjs/lib/elk.bundled.js';
import type { ELK as ElkApi, ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import type { DiagramShape, LaidOut } from '../../render/diagram-svg.js';
import type { Box, TopologyGraph } from './graph.js';

/**
 * Lays the topology graph out with elkjs (the Eclipse Layout Kernel compiled to JavaScript): the layered
 * algorithm, nodes as nested boxes, edges routed orthogonally across the hierarchy. Coordinates come back
 * absolute (`elk.json.*Coords: ROOT`), so the SVG renderer needs no arithmetic of its own.
 */

/** The bundle is CommonJS: its `module.exports` is the constructor itself (in-process layout, no worker). */
const ELK = elkBundle as unknown as new () => ElkApi;

const CHAR = 7.2;
const LINE = 16;
const size = (b: Box) => ({
  width: Math.max(90, Math.max(...b.lines.map((l) => l.length)) * CHAR + 16),
  height: b.lines.length * LINE + 12,
});

function elkNode(b: Box): ElkNode {
  if (b.children?.length)
    return {
      id: b.id,
      layoutOptions: {
        'elk.padding': `[top=${b.lines.length * LINE + 14},left=12,bottom=12,right=12]`,
        'elk.direction': 'DOWN',
      },
      children: b.children.map(elkNode),
    };
  return { id: b.id, ...size(b) };
}

export async function layoutTopology(g: TopologyGraph): Promise<LaidOut> {
  const elk = new ELK();
  const root: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'DOWN',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.spacing.nodeNode': '28',
      'elk.layered.spacing.nodeNodeBetweenLayers': '36',
      'elk.json.shapeCoords': 'ROOT',
      'elk.json.edgeCoords': 'ROOT',
    },
    children: g.boxes.map(elkNode),
    edges: g.links.map((l) => ({ id: l.id, sources: [l.from], targets: [l.to] })),
  };
  const out = await elk.layout(root);
  const byId = new Map<string, Box>();
  const walk = (bs: readonly Box[]) => {
    for (const b of bs) {
      byId.set(b.id, b);
      if (b.children) walk(b.children);
    }
  };
  walk(g.boxes);
  const shapes: DiagramShape[] = [];
  const collect = (n: ElkNode, depth: number) => {
    for (const c of n.children ?? []) {
      const b = byId.get(c.id)!;
      shapes.push({
        id: c.id,
        kind: b.kind,
        lines: b.lines,
        x: c.x ?? 0,
        y: c.y ?? 0,
        width: c.width ?? 0,
        height: c.height ?? 0,
        depth,
      });
      collect(c, depth + 1);
    }
  };
  collect(out, 0);
  const links = new Map(g.links.map((l) => [l.id, l]));
  const edges = ((out.edges ?? []) as ElkExtendedEdge[]).flatMap((e) => {
    const l = links.get(e.id);
    const s = e.sections?.[0];
    if (!l || !s) return [];
    return [
      {
        id: e.id,
        kind: l.kind,
        ...(l.label ? { label: l.label } : {}),
        points: [s.startPoint, ...(s.bendPoints ?? []), s.endPoint],
      },
    ];
  });
  return { title: g.title, width: out.width ?? 0, height: out.height ?? 0, shapes, edges };
}
