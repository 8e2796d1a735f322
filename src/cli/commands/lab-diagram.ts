import { defineCommand, labName, NAME_FLAG, NAME_HELP, usage } from '../command.js';

export const labDiagram = defineCommand({
  name: 'lab diagram',
  summary: "draw the lab's topology as SVG, optionally with a trace's hops on it (docs/trace.md)",
  help: `usage: podnet lab diagram [--name LAB] -o FILE.svg [--trace FROM TO [--proto P] | --trace-file TRACE.json]

Nodes with their uplink, bridge, tunnel device and pods (with IPs), the veths, the switch, the tunnels,
services and their endpoints, laid out by elkjs. With --trace, a probe is traced first (as 'podnet lab trace')
and its observed hops are drawn as a numbered path (request red, reply blue).

${NAME_HELP}
  -o, --output FILE   where to write the SVG (required)
  --trace             trace FROM TO (the two words after the flags) and draw it
  --proto P           with --trace: tcp, udp or icmp
  --trace-file FILE   draw a trace saved with 'podnet lab trace --json'`,
  options: {
    ...NAME_FLAG,
    output: { type: 'string', short: 'o' },
    trace: { type: 'boolean', default: false },
    proto: { type: 'string' },
    'trace-file': { type: 'string' },
  },
  positionals: true,
  async run({ values, positionals }) {
    const lab = labName(values.name);
    if (!values.output) usage('give -o FILE.svg');
    if (values.trace && positionals.length !== 2)
      usage(`--trace needs FROM and TO (got ${positionals.length} word(s))`);
    if (!values.trace && positionals.length)
      usage(`unexpected word(s): ${positionals.join(' ')}`, 'did you mean --trace FROM TO?');
    if (values.trace && values['trace-file']) usage('give --trace or --trace-file, not both');
    const { readFileSync, writeFileSync } = await import('node:fs');
    const { loadLab } = await import('../../lab/load.js');
    const { diagramSvg } = await import('../../lab/diagram/index.js');
    const l = loadLab(lab);
    let trace: import('../../lab/diagram/index.js').DrawnTrace | undefined;
    if (values.trace) {
      const { traceLab } = await import('../../lab/trace/run.js');
      trace = await traceLab(lab, l.cluster, {
        from: positionals[0]!,
        to: positionals[1]!,
        ...(values.proto !== undefined ? { proto: values.proto } : {}),
      });
    } else if (values['trace-file']) {
      trace = JSON.parse(readFileSync(values['trace-file'], 'utf8'));
    }
    writeFileSync(values.output!, await diagramSvg(l.cluster, lab, trace));
    console.log(
      `wrote ${values.output}${trace ? ` (trace ${trace.from} → ${trace.to}: ${trace.probe.verdict})` : ''}`,
    );
    return 0;
  },
});
