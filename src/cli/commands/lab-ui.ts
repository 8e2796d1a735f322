import { defineCommand, labName, NAME_FLAG, NAME_HELP, usage } from '../command.js';

export const labUi = defineCommand({
  name: 'lab ui',
  summary: 'serve a local page: live topology, verify matrix, node differences, traces drawn on the topology',
  help: `usage: podnet lab ui [--name LAB] [--listen 127.0.0.1:PORT]

Serves one page on loopback (docs/trace.md): the lab's topology (updated when the lab changes), each node's
desired-vs-observed differences, the verify matrix, and a form to trace between two endpoints. GET /health
reports the server's state; a request that fails is answered with its error and the server keeps serving.

${NAME_HELP}
  --listen HOST:PORT  where to listen (default 127.0.0.1:7480; port 0 picks a free one)`,
  options: { ...NAME_FLAG, listen: { type: 'string', default: '127.0.0.1:7480' } },
  async run({ values }) {
    const lab = labName(values.name);
    const m = /^([0-9.]+|localhost|\[::1\]):(\d{1,5})$/.exec(values.listen);
    if (!m || Number(m[2]) > 65535)
      usage(`--listen '${values.listen}' is not HOST:PORT`, 'e.g. 127.0.0.1:7480');
    const { startUi } = await import('../../lab/ui/server.js');
    const ui = await startUi(lab, m[1] === '[::1]' ? '::1' : m[1]!, Number(m[2]));
    console.log(`podnet lab ui: ${ui.url} (lab ${lab}); Ctrl-C to stop`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        void ui.close().then(resolve);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
});
