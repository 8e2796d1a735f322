import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pluginBuildOptions } from './install.js';

// The plugin process reads its whole code and code cache on every start: planners it never runs cost it time.
test("the CNI plugin's code holds no service or policy planner, nor the proxy's nftables text", async () => {
  const esbuild = await import('esbuild');
  const built = await esbuild.build({
    ...pluginBuildOptions('/opt/cni/bin/podnet.d/netlink.node'),
    metafile: true,
  });
  const inputs = Object.keys(built.metafile.inputs).map((f) => f.replace(/^.*?\/src\//, ''));
  assert.ok(
    inputs.includes('cni/main.js') && inputs.includes('plan/node/network-drift.js'),
    inputs.join(' '),
  );
  const unwanted = inputs.filter((f) =>
    /^(plan\/services\/(?!nft-layout\.js)|plan\/policy\/(?!nftables\.js)|model\/service|render\/nft-proxy\.js|plan\/node\/sync\.js|lab\/|agent\/)/.test(
      f,
    ),
  );
  assert.deepEqual(unwanted, [], `in the plugin's bundle: ${unwanted.join(', ')}`);
});
