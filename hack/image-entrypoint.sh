#!/bin/sh
# The image's entrypoint: "webhook" or "controller", then that process's flags.
set -eu
component=${1:-}
case "$component" in
  webhook | controller)
    shift
    # exec: node becomes PID 1 and receives SIGTERM from the kubelet directly.
    exec node "/app/dist/$component/main.js" "$@"
    ;;
  *)
    echo "usage: everynode webhook|controller [flags...]  (got: '${component}')" >&2
    exit 64
    ;;
esac
