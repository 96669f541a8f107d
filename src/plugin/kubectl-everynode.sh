#!/usr/bin/env bash
# kubectl-everynode: the `kubectl everynode` plugin as `make build` installs it in bin/
# (kubectl runs any kubectl-* executable on PATH). Runs the compiled plugin,
# dist/plugin/main.js, with the project's own Node.js (hack/ensure-node.sh).
# Works through a symlink too (e.g. ln -s "$PWD/bin/kubectl-everynode" ~/bin/).
set -euo pipefail
self=$(readlink -f "${BASH_SOURCE[0]}")
root=$(cd "$(dirname "$self")/.." && pwd)
exec "$("$root/hack/ensure-node.sh")/node" "$root/dist/plugin/main.js" "$@"
