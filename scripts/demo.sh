#!/usr/bin/env bash
# The README's first command: set up, bring up the default lab (the seed's cluster) and verify it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
node bin/podnet.js lab down >/dev/null 2>&1 || true
node bin/podnet.js lab up
node bin/podnet.js lab verify
