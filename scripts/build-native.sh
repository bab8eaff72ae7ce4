#!/usr/bin/env bash
# Rebuilds the native addon (build/Release/openkcm_native.node) after editing native/ or binding.gyp.
# `npm ci` does this on install (npm runs `node-gyp rebuild` for a root binding.gyp); this script is the
# same step on its own, with npm's bundled node-gyp and npm's configured nodedir (Node's headers,
# e.g. /usr/include/node), so nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$gyp" ] || { echo "npm's bundled node-gyp not found at $gyp" >&2; exit 1; }
nodedir="$(npm config get nodedir 2>/dev/null || true)"
args=(rebuild)
if [ -n "$nodedir" ] && [ "$nodedir" != "undefined" ] && [ "$nodedir" != "null" ]; then args+=("--nodedir=$nodedir"); fi
exec node "$gyp" "${args[@]}" "$@"
