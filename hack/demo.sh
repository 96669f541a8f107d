#!/usr/bin/env bash
# The main job in one command (`make demo`): a local cluster with a tainted
# control-plane node and 4 kwok workers, everynode installed with its Helm chart
# (development mode: the API server calls the webhook on the host), the webhook
# and controller running on the host, and the classic nginx DaemonSet tutorial
# with a rolling image update. The cluster and the processes keep running;
# `make down` (hack/demo.sh down) stops them all.
#
# Every step logs to .cluster/logs/<step>.log (steps before the cluster exists:
# a scratch directory, moved there afterwards); a failure names the step and
# prints the end of its log.
set -Eeuo pipefail  # -E: the ERR trap also fires inside functions

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/bin:$("$root/hack/ensure-node.sh"):$PATH"

state=$root/.cluster
# Until the cluster exists its directory may be wiped (`cluster.ts up` starts from an empty one), so the
# first steps log to a scratch directory; their logs move to .cluster/logs/ once the cluster is up.
logs=$(mktemp -d "${TMPDIR:-/tmp}/everynode-demo-logs.XXXXXX")
pids=$state/demo.pids
export KUBECONFIG=$state/kubeconfig
tls=$state/webhook-tls
namespace=everynode-system
release=everynode
webhook_port=${WEBHOOK_PORT:-9443}
webhook_metrics_port=${WEBHOOK_METRICS_PORT:-8080}
controller_metrics_port=${CONTROLLER_METRICS_PORT:-8081}
nginx_update_image=${NGINX_UPDATE_IMAGE:-nginx:1.28}

bold() { printf '\033[1m%s\033[0m\n' "$*"; }
current_step=""
current_log=""

fail() {
  echo >&2
  echo "demo: step \"$current_step\" failed." >&2
  if [ -n "$current_log" ] && [ -f "$current_log" ]; then
    echo "demo: its log is $current_log; the last lines:" >&2
    tail -n 25 "$current_log" | sed 's/^/    /' >&2
  fi
  echo "demo: the cluster and processes started so far are left running for inspection; \`make down\` stops them." >&2
  exit 1
}
trap 'fail' ERR

# step NAME LOGNAME: starts a step; its commands log to $current_log.
step() {
  current_step=$1
  current_log=$logs/$2.log
  mkdir -p "$logs"
  : >"$current_log"
  bold "==> $1"
}

# long CMD...: runs a command that may take minutes, printing elapsed time and
# its latest log line every 15 s so a long build is visibly alive.
long() {
  "$@" >>"$current_log" 2>&1 &
  local pid=$! start=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep 15 &
    wait $! || true
    if kill -0 "$pid" 2>/dev/null; then
      printf '    ... %ss: %s\n' "$((SECONDS - start))" "$(tail -n 1 "$current_log" | cut -c1-120)"
    fi
  done
  wait "$pid"
}

# wait_until DESCRIPTION SECONDS CMD...: polls CMD every second.
wait_until() {
  local what=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >>"$current_log" 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "    timed out after ${timeout}s waiting for $what" | tee -a "$current_log" >&2
      return 1
    fi
    sleep 1
  done
}

# A pid from the pids file is ours only if it still runs the script we started
# (pids get reused).
is_ours() { # pid script
  [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$2"
}

stop_processes() {
  [ -f "$pids" ] || return 0
  while read -r pid script; do
    [ -n "$pid" ] || continue
    if is_ours "$pid" "$script"; then
      echo "    stopping $(basename "$(dirname "$script")") (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do is_ours "$pid" "$script" || break; sleep 0.2; done
      if is_ours "$pid" "$script"; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
  done <"$pids"
  rm -f "$pids"
}

# http_ok URL: a 2xx answer (node's fetch, so curl is not needed).
http_ok() { node -e "fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" "$1"; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_process() { # name script args...
  local name=$1 script=$2
  shift 2
  # nohup: the processes outlive this script and the terminal it ran in (nohup execs node: same pid).
  nohup node "$script" "$@" >>"$logs/$name.log" 2>&1 </dev/null &
  echo "$! $script" >>"$pids"
  echo "    $name started (pid $!), log: $logs/$name.log"
}

down() {
  trap - ERR
  bold "==> stopping the webhook and the controller"
  stop_processes
  bold "==> stopping the cluster"
  node hack/cluster.ts down
}

if [ "${1:-}" = down ]; then
  down
  exit 0
fi

# ---------------------------------------------------------------------------
step "build the control-plane tools (first run: about 30 min, then cached)" tools
long hack/tools/build.sh all
echo "    $(ls bin | tr '\n' ' ')"

step "install npm packages and compile everynode" build
[ -f node_modules/.package-lock.json ] || long npm ci --no-audit --no-fund
long npx tsc -p tsconfig.build.json

step "start the cluster: 1 tainted control-plane node + 4 kwok workers" cluster
long node hack/cluster.ts up --nodes 4 --control-plane 1
tail -n 3 "$current_log" | sed 's/^/    /'
mkdir -p "$state/logs"
mv "$logs"/*.log "$state/logs/"
rmdir "$logs"
logs=$state/logs

step "generate the webhook's development certificate (CA + 127.0.0.1)" certs
mkdir -p "$tls"
valid_for_a_day() { # cert file
  node -e "const { X509Certificate } = require('node:crypto');
    const cert = new X509Certificate(require('node:fs').readFileSync(process.argv[1]));
    process.exit(cert.validToDate.getTime() - Date.now() > 86400000 ? 0 : 1);" "$1"
}
if [ ! -s "$tls/tls.crt" ] || ! valid_for_a_day "$tls/tls.crt" >>"$current_log" 2>&1; then
  node --input-type=module -e "
    import { writeFileSync } from 'node:fs';
    const { generateCertificateAuthority, generateServingCertificate } = await import('$root/src/lib/certs.ts');
    const ca = await generateCertificateAuthority({ commonName: 'everynode-demo-ca', validDays: 365 });
    const serving = await generateServingCertificate(ca, { hosts: ['127.0.0.1', 'localhost'], validDays: 90 });
    writeFileSync('$tls/ca.crt', ca.certPem);
    writeFileSync('$tls/tls.crt', serving.certPem);
    writeFileSync('$tls/tls.key', serving.keyPem, { mode: 0o600 });
  " >>"$current_log" 2>&1
  echo "    wrote $tls/{ca.crt,tls.crt,tls.key}"
else
  echo "    reusing $tls (valid for more than a day)"
fi

step "start the webhook and the controller on the host" processes
stop_processes >>"$current_log"
for port in "$webhook_port" "$webhook_metrics_port" "$controller_metrics_port"; do
  port_free "$port" || { echo "    port $port is in use (set WEBHOOK_PORT, WEBHOOK_METRICS_PORT or CONTROLLER_METRICS_PORT)" | tee -a "$current_log" >&2; false; }
done
start_process webhook dist/webhook/main.js \
  --port="$webhook_port" --metrics-port="$webhook_metrics_port" \
  --tls-cert-file="$tls/tls.crt" --tls-private-key-file="$tls/tls.key"
start_process controller dist/controller/main.js \
  --kubeconfig="$KUBECONFIG" --metrics-port="$controller_metrics_port"
current_log=$logs/webhook.log
wait_until "the webhook to be ready" 60 http_ok "http://127.0.0.1:$webhook_metrics_port/readyz"
current_log=$logs/controller.log
wait_until "the controller to be ready" 60 http_ok "http://127.0.0.1:$controller_metrics_port/readyz"
echo "    both ready"

step "install everynode with Helm (development mode: the API server calls https://127.0.0.1:$webhook_port/mutate)" helm
long helm upgrade --install "$release" charts/everynode \
  --namespace "$namespace" --create-namespace \
  --set webhook.url="https://127.0.0.1:$webhook_port/mutate" \
  --set webhook.caBundle="$(base64 -w0 <"$tls/ca.crt")" \
  --set webhook.enabled=false --set controller.enabled=false \
  --wait
helm list -n "$namespace" | sed 's/^/    /'

step "apply examples/nginx-ds.yaml and wait for its pods" nginx
kubectl apply -f examples/nginx-ds.yaml >>"$current_log" 2>&1
long kubectl rollout status ds/nginx --timeout=180s

echo
bold "$ kubectl get nodes"
kubectl get nodes
echo
bold "$ kubectl get ds"
kubectl get ds
echo
bold "$ kubectl get pods -o wide"
kubectl get pods -l app=nginx -o wide

step "check: one nginx pod on each worker, none on the control-plane node" check
workers=$(kubectl get nodes -l '!node-role.kubernetes.io/control-plane' -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | sort)
placed=$(kubectl get pods -l app=nginx -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort)
echo "workers: $workers" >>"$current_log"
echo "pods on: $placed" >>"$current_log"
[ "$workers" = "$placed" ] || { echo "    expected exactly one pod on each of: $(echo $workers); pods are on: $(echo $placed)" | tee -a "$current_log" >&2; false; }
echo "    $(echo "$placed" | wc -l) pods, one per worker: $(echo $placed)"

step "rolling update: kubectl set image ds/nginx nginx=$nginx_update_image" rollout
kubectl set image ds/nginx "nginx=$nginx_update_image" | sed 's/^/    /'
bold "$ kubectl rollout status ds/nginx"
kubectl rollout status ds/nginx --timeout=300s 2>&1 | tee -a "$current_log"
echo
bold "$ kubectl get pods -o wide"
kubectl get pods -l app=nginx -o wide -L controller-revision-hash
echo
bold "$ kubectl rollout history ds/nginx"
kubectl rollout history ds/nginx

trap - ERR
echo
bold "Done. The cluster, the webhook and the controller keep running (logs: $logs/)."
echo "To use it:"
echo
echo "  export KUBECONFIG=$KUBECONFIG"
echo
echo "Stop everything with: make down"
