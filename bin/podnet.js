#!/usr/bin/env node
// Entry point: the CNI plugin when CNI_COMMAND is set (a runtime exec'd us; see docs/cni.md), otherwise the CLI.
// The CNI path loads only dist/src/cni (no CLI, lab or YAML code): start-up time is part of every pod's ADD.
if (process.env.CNI_COMMAND) import('../dist/src/cni/main.js').then((m) => m.main());
else import('../dist/src/cli/main.js').then((m) => m.main(process.argv.slice(2)));
