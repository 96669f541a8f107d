#!/bin/sh
# The image's entrypoint: "webhook" or "controller", then that process's flags.
set -eu
# The controller's V8 heap: a cap makes V8 collect before growing (a Node.js process otherwise keeps
# a heap a few times its live objects, and RSS follows). Enough for 5,000 nodes and their pods;
# EVERYNODE_CONTROLLER_NODE_OPTIONS replaces it (the chart's controller.nodeOptions). The benchmark
# reads this default from here.
CONTROLLER_NODE_OPTIONS_DEFAULT='--max-old-space-size=192 --max-semi-space-size=8'
component=${1:-}
case "$component" in
  webhook | controller)
    shift
    flags=''
    if [ "$component" = controller ]; then
      flags=${EVERYNODE_CONTROLLER_NODE_OPTIONS-$CONTROLLER_NODE_OPTIONS_DEFAULT}
    fi
    # exec: node becomes PID 1 and receives SIGTERM from the kubelet directly.
    # shellcheck disable=SC2086 # the flags are words
    exec node $flags "/app/dist/$component/main.js" "$@"
    ;;
  *)
    echo "usage: everynode webhook|controller [flags...]  (got: '${component}')" >&2
    exit 64
    ;;
esac
