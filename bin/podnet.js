#!/usr/bin/env node
// Entry point: the CLI, or the CNI plugin when CNI_COMMAND is set (see docs/cni.md).
import('../dist/src/cli/main.js').then((m) => m.main(process.argv.slice(2)));
