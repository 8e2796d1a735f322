import { defineCommand, labName, NAME_FLAG, NAME_HELP, usage } from '../command.js';

export const labTrace = defineCommand({
  name: 'lab trace',
  summary: 'send one probe and observe its path hop by hop, beside what the model expects (docs/trace.md)',
  help: `usage: podnet lab trace [--name LAB] FROM TO[:PORT] [--proto tcp|udp|icmp] [--size N] [--capture] [--json]

FROM is a pod or a node. TO is a pod (b, b:8081, 10.200.1.2:8080), a ClusterIP service (default/web:http or
10.96.0.2:8080), a NodePort (node-1:30080 or 192.168.64.5:30080) or the outside host (outside, outside:80).

${NAME_HELP}
  --proto P           tcp (default; a service port's own protocol), udp or icmp
  --size N            payload bytes (default 64): a large probe finds MTU problems
  --timeout S         seconds the probe waits for an answer (default 1)
  --no-observe        send the same probe without tracing it (its verdict must be the same)
  --capture           also capture the underlay with tshark (VXLAN labs) and check each encapsulation against it
  --json              print JSON, kind Trace (schema in docs/trace.md)

exit codes: 0 the probe was answered, 3 it was not (the trace says where it stopped and why), 2 bad input`,
  options: {
    ...NAME_FLAG,
    proto: { type: 'string' },
    size: { type: 'string' },
    timeout: { type: 'string' },
    'no-observe': { type: 'boolean', default: false },
    capture: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
  positionals: true,
  async run({ values, positionals }) {
    const lab = labName(values.name);
    if (positionals.length !== 2)
      usage(
        `give FROM and TO (got ${positionals.length} word(s))`,
        'e.g. podnet lab trace c default/web:http',
      );
    const size = values.size === undefined ? undefined : Number(values.size);
    if (size !== undefined && !(Number.isInteger(size) && size >= 0 && size <= 65000))
      usage(`--size '${values.size}' is not a byte count in 0-65000`);
    const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
    if (timeout !== undefined && !(timeout > 0 && timeout <= 30))
      usage(`--timeout '${values.timeout}' is not a number of seconds in (0, 30]`);
    const { loadLab } = await import('../../lab/load.js');
    const { traceLab } = await import('../../lab/trace/run.js');
    const { formatTrace } = await import('../../lab/trace/format.js');
    const l = loadLab(lab);
    const r = await traceLab(lab, l.cluster, {
      from: positionals[0]!,
      to: positionals[1]!,
      ...(values.proto !== undefined ? { proto: values.proto } : {}),
      ...(size !== undefined ? { size } : {}),
      ...(timeout !== undefined ? { timeoutS: timeout } : {}),
      observe: !values['no-observe'],
      capture: values.capture,
      ...(process.env.PODNET_TRACE_READY_FILE
        ? { onReady: () => announceReady(process.env.PODNET_TRACE_READY_FILE!) }
        : {}),
    });
    if (values.json) (await import('../json.js')).printJson('Trace', { ...r });
    else process.stdout.write(formatTrace(r));
    return r.probe.verdict === 'answered' ? 0 : 3;
  },
});

/** Tests kill podnet mid-trace: they wait for this file, written once the trace tables are in place. */
async function announceReady(path: string): Promise<void> {
  // Written aside, then renamed: whoever waits for the file never reads it empty.
  const { renameSync, writeFileSync } = await import('node:fs');
  writeFileSync(`${path}.tmp`, `${process.pid}\n`);
  renameSync(`${path}.tmp`, path);
}
