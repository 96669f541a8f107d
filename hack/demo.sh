#!/usr/bin/env bash
# The main job in one command (`make demo`): a local cluster with a tainted
# control-plane node and 4 kwok workers, everynode installed with its Helm chart
# (development mode: the API server calls the webhook on the host), the webhook
# and controller running on the host, and the classic nginx DaemonSet tutorial
# with a rolling image update. The cluster and the processes keep running;
# `make down` (hack/demo.sh down) stops them all.
#
# The webhook and the controller each run under hack/supervise.ts, which
# restarts them when they exit (the controller exits by design when it loses
# its leader lease, e.g. during an API server outage; a Deployment would restart
# it) and notes it in logs/supervisor.log; this script relays those lines while
# it runs.
#
# Every step logs to .cluster/logs/<step>.log (steps before the cluster exists:
# a scratch directory, moved there afterwards); a failure names the step and
# prints the end of its log.
#
# Environment (also for `hack/demo.sh down`): EVERYNODE_DEMO_DIR (state
# directory, default .cluster), WEBHOOK_PORT (9443), WEBHOOK_METRICS_PORT
# (8080), CONTROLLER_METRICS_PORT (8081), NGINX_UPDATE_IMAGE (nginx:1.28),
# NO_COLOR (no bold step headers; they are only written to a terminal anyway).
set -Eeuo pipefail  # -E: the ERR trap also fires inside functions

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/bin:$("$root/hack/ensure-node.sh"):$PATH"

default_state=$root/.cluster
state=$(realpath -m "${EVERYNODE_DEMO_DIR:-$default_state}")
logs=""  # set once the port check passed
export KUBECONFIG=$state/kubeconfig
tls=$state/webhook-tls
namespace=everynode-system
release=everynode
webhook_port=${WEBHOOK_PORT:-9443}
webhook_metrics_port=${WEBHOOK_METRICS_PORT:-8080}
controller_metrics_port=${CONTROLLER_METRICS_PORT:-8081}
nginx_update_image=${NGINX_UPDATE_IMAGE:-nginx:1.28}

# What stops it all; with a non-default state directory, `make down` needs it too.
if [ "$state" = "$default_state" ]; then stop_command="make down"; else stop_command="EVERYNODE_DEMO_DIR=$state make down"; fi

# Bold step headers only on a terminal, and not with NO_COLOR (https://no-color.org).
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  bold() { printf '\033[1m%s\033[0m\n' "$*"; }
else
  bold() { printf '%s\n' "$*"; }
fi
current_step=""
current_log=""

fail() {
  echo >&2
  echo "demo: step \"$current_step\" failed." >&2
  if [ -n "$current_log" ] && [ -f "$current_log" ]; then
    echo "demo: its log is $current_log; the last lines:" >&2
    tail -n 25 "$current_log" | sed 's/^/    /' >&2
  fi
  echo "demo: the cluster and processes started so far are left running for inspection; \`$stop_command\` stops them." >&2
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

# The supervisors' events (exits and restarts of the webhook and controller), one a line after an
# ISO timestamp; relay_events prints the lines not printed yet.
events=""
events_seen=0
relay_events() {
  [ -n "$events" ] && [ -f "$events" ] || return 0
  local n
  n=$(wc -l <"$events")
  if [ "$n" -gt "$events_seen" ]; then
    sed -n "$((events_seen + 1)),${n}p" "$events" | cut -d' ' -f2- | sed 's/^/    /'
    events_seen=$n
  fi
}

# long CMD...: runs a command that may take minutes, printing elapsed time and
# its latest log line every 15 s so a long build is visibly alive.
long() {
  "$@" >>"$current_log" 2>&1 &
  local pid=$! start=$SECONDS
  follow "$pid" "$start"
  wait "$pid"
}

# follow PID [START]: until PID exits, relays supervisor events every second and (with START) prints
# the elapsed time and the current log's latest line every 15 s.
follow() {
  local pid=$1 start=${2:-}
  local next=$((SECONDS + 15))
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1 &
    wait $! || true
    relay_events
    if [ -n "$start" ] && [ $SECONDS -ge $next ] && kill -0 "$pid" 2>/dev/null; then
      printf '    ... %ss: %s\n' "$((SECONDS - start))" "$(tail -n 1 "$current_log" | cut -c1-120)"
      next=$((SECONDS + 15))
    fi
  done
}

# wait_until DESCRIPTION SECONDS CMD...: polls CMD every second.
wait_until() {
  local what=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >>"$current_log" 2>&1; do
    relay_events
    if [ $SECONDS -ge $deadline ]; then
      echo "    timed out after ${timeout}s waiting for $what" | tee -a "$current_log" >&2
      return 1
    fi
    sleep 1
  done
}

# Which processes belong to this demo is read from their command lines, never from a pid file, so a
# supervisor's restarted child, or a component someone restarted by hand against this demo's cluster,
# is found too (and a reused pid is never mistaken for ours):
#   supervisors:  node .../hack/supervise.ts ... --events $state/logs/supervisor.log ...
#   controllers:  node .../dist/controller/main.js ... --kubeconfig[= ]$state/kubeconfig ...
#   webhooks:     node .../dist/webhook/main.js ... --tls-cert-file[= ]$state/webhook-tls/tls.crt ...
# (a relative path, as in `make run-controller`, counts from the process's working directory).
cmdline_of() { # pid -> the command line, arguments joined by spaces (empty when gone)
  local -a argv=()
  mapfile -d '' argv 2>/dev/null <"/proc/$1/cmdline" || return 0
  if [ ${#argv[@]} -gt 0 ]; then printf '%s ' "${argv[@]}"; fi
}
is_supervisor() { # cmdline
  [[ $1 == *"/hack/supervise.ts "* && $1 == *" --events $state/logs/supervisor.log "* ]]
}
# flag_path PID FLAG: the absolute path given to --FLAG (=value or separate) in PID's command line.
flag_path() {
  local -a argv=()
  mapfile -d '' argv 2>/dev/null <"/proc/$1/cmdline" || return 0
  local i value=""
  for ((i = 0; i < ${#argv[@]}; i++)); do
    case ${argv[i]} in
      "--$2="*) value=${argv[i]#*=} ;;
      "--$2") value=${argv[i + 1]:-} ;;
    esac
  done
  [ -n "$value" ] || return 0
  if [[ $value != /* ]]; then value=$(readlink "/proc/$1/cwd" 2>/dev/null)/$value; fi
  realpath -m "$value"
}
is_component() { # pid cmdline
  case $2 in
    *"dist/controller/main.js "*) [ "$(flag_path "$1" kubeconfig)" = "$KUBECONFIG" ] ;;
    *"dist/webhook/main.js "*) [ "$(flag_path "$1" tls-cert-file)" = "$tls/tls.crt" ] ;;
    *) return 1 ;;
  esac
}
demo_pids() { # supervisors|components -> pids, one a line
  local dir pid cmd
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [ "$pid" != $$ ] && [ "$pid" != "$BASHPID" ] || continue
    cmd=$(cmdline_of "$pid") || continue
    [ -n "$cmd" ] || continue
    case $1 in
      supervisors) if is_supervisor "$cmd"; then echo "$pid"; fi ;;
      components) if ! is_supervisor "$cmd" && is_component "$pid" "$cmd"; then echo "$pid"; fi ;;
    esac
  done
  return 0
}
stat_field() { # pid n -> field n of /proc/pid/stat counted after the command name: 1 state, 3 process group
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  local -a fields
  read -r -a fields <<<"$stat"
  echo "${fields[$(($2 - 1))]:-}"
}
alive() { # pids... -> those still alive (not zombies)
  local pid state
  for pid in "$@"; do
    state=$(stat_field "$pid" 1)
    if [ -n "$state" ] && [[ $state != [ZX] ]]; then echo "$pid"; fi
  done
  return 0
}
# terminate SECONDS PIDS...: SIGTERM, up to SECONDS to exit, then SIGKILL (to the process group when
# the pid leads one: a supervisor and its child).
terminate() {
  local grace=$1 pid
  shift
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  local deadline=$((SECONDS + grace))
  while [ -n "$(alive "$@")" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  for pid in $(alive "$@"); do
    echo "    pid $pid did not stop within ${grace}s; SIGKILL"
    if [ "$(stat_field "$pid" 3)" = "$pid" ]; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    kill -KILL "$pid" 2>/dev/null || true
  done
}

stop_processes() {
  local pid
  local -a supervisors components
  mapfile -t supervisors < <(demo_pids supervisors)
  for pid in "${supervisors[@]}"; do echo "    stopping $(cmdline_of "$pid" | sed -n 's/.*--name \([^ ]*\) .*/\1/p') and its supervisor (pid $pid)"; done
  # A supervisor stops its child (SIGTERM; SIGKILL after 10 s) before it exits.
  terminate 15 "${supervisors[@]}"
  mapfile -t components < <(demo_pids components)
  for pid in "${components[@]}"; do echo "    stopping $(cmdline_of "$pid" | grep -o 'dist/[a-z]*/main.js') (pid $pid, not started by a supervisor)"; done
  terminate 10 "${components[@]}"
}

# http_ok URL: a 2xx answer (node's fetch, so curl is not needed).
http_ok() { node -e "fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" "$1"; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# port_holder PORT: "pid N: COMMAND" of the process listening on PORT, when this user can see it.
port_holder() {
  local hex inode fd pid
  hex=$(printf '%04X' "$1")
  for inode in $(awk -v port="$hex" 'FNR > 1 && $4 == "0A" { n = split($2, a, ":"); if (a[n] == port) print $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null); do
    fd=$(find /proc/[0-9]*/fd -lname "socket:\[$inode\]" -print -quit 2>/dev/null) || true
    [ -n "$fd" ] || continue
    pid=${fd#/proc/}
    pid=${pid%%/*}
    local cmd
    cmd=$(cmdline_of "$pid")
    cmd=${cmd% }
    echo "pid $pid: ${cmd:0:160}"
    return 0
  done
  return 1
}

# start_supervised NAME SCRIPT ARGS...: runs `node SCRIPT ARGS...` under hack/supervise.ts, in a
# session of its own (setsid: no terminal, so closing it or Ctrl-C there stops nothing; `down` can
# signal the group), its output appended to logs/NAME.log.
start_supervised() {
  local name=$1 script=$2
  shift 2
  local detach=(nohup)
  command -v setsid >/dev/null 2>&1 && detach=(setsid)
  "${detach[@]}" node "$root/hack/supervise.ts" --name "$name" --log "$logs/$name.log" --events "$events" \
    -- node "$script" "$@" >>"$logs/$name.log" 2>&1 </dev/null &
  echo "    $name started under a supervisor (pid $!), log: $logs/$name.log"
}

down() {
  trap - ERR
  bold "==> stopping the webhook and the controller"
  stop_processes
  bold "==> stopping the cluster"
  node hack/cluster.ts down --dir "$state"
}

if [ "${1:-}" = down ]; then
  down
  exit 0
fi

# ---------------------------------------------------------------------------
# Before anything starts: this demo's own processes from an earlier run go (the cluster stays, and is
# reused), then the fixed ports must be free.
if [ -n "$(demo_pids supervisors)$(demo_pids components)" ]; then
  bold "==> stopping the webhook and the controller of the previous run"
  stop_processes
fi
declare -A port_var=()
for var in WEBHOOK_PORT WEBHOOK_METRICS_PORT CONTROLLER_METRICS_PORT; do
  case $var in
    WEBHOOK_PORT) port=$webhook_port ;;
    WEBHOOK_METRICS_PORT) port=$webhook_metrics_port ;;
    CONTROLLER_METRICS_PORT) port=$controller_metrics_port ;;
  esac
  if ! [[ $port =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
    echo "demo: $var=$port is not a port number (1-65535)." >&2
    exit 1
  fi
  if [ -n "${port_var[$port]:-}" ]; then
    echo "demo: $var and ${port_var[$port]} are both $port; give each its own port." >&2
    exit 1
  fi
  port_var[$port]=$var
  if ! port_free "$port"; then
    holder=$(port_holder "$port") || holder="a process this user cannot see"
    echo "demo: port $port ($var) is already in use, by $holder." >&2
    example=$(((port + 10000) % 55535 + 10000))
    echo "demo: stop that process, or run with $var set to a free port (e.g. $var=$example make demo)." >&2
    exit 1
  fi
done

# Until the cluster exists its directory may be wiped (`cluster.ts up` starts from an empty one), so the
# first steps log to a scratch directory; their logs move to .cluster/logs/ once the cluster is up.
logs=$(mktemp -d "${TMPDIR:-/tmp}/everynode-demo-logs.XXXXXX")

tools_cached() {
  local t
  for t in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm; do
    [ -x "bin/$t" ] || return 1
  done
}
if tools_cached; then
  step "build or reuse the control-plane tools (cached under ${EVERYNODE_CACHE:-~/.cache/everynode})" tools
else
  step "build the control-plane tools (first run: about 30 min on 2 cores, then cached)" tools
fi
long hack/tools/build.sh cluster
echo "    $(ls bin | tr '\n' ' ')"

step "install npm packages and compile everynode" build
[ -f node_modules/.package-lock.json ] || long npm ci --no-audit --no-fund
long npx tsc -p tsconfig.build.json

step "start the cluster: 1 tainted control-plane node + 4 kwok workers" cluster
long node hack/cluster.ts up --nodes 4 --control-plane 1 --dir "$state" --stop-command "$stop_command"
tail -n 3 "$current_log" | sed 's/^/    /'
mkdir -p "$state/logs"
mv "$logs"/*.log "$state/logs/"
rmdir "$logs"
logs=$state/logs
events=$logs/supervisor.log
touch "$events"
events_seen=$(wc -l <"$events")

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

step "start the webhook and the controller on the host, each under a supervisor that restarts it" processes
stop_processes | tee -a "$current_log"
for port in "$webhook_port" "$webhook_metrics_port" "$controller_metrics_port"; do
  port_free "$port" || { echo "    port $port was taken while the cluster started, by $(port_holder "$port" || echo "an unknown process")" | tee -a "$current_log" >&2; false; }
done
start_supervised webhook "$root/dist/webhook/main.js" \
  --bind-address=127.0.0.1 --port="$webhook_port" --metrics-port="$webhook_metrics_port" \
  --tls-cert-file="$tls/tls.crt" --tls-private-key-file="$tls/tls.key"
start_supervised controller "$root/dist/controller/main.js" \
  --kubeconfig="$KUBECONFIG" --metrics-bind-address=127.0.0.1 --metrics-port="$controller_metrics_port"
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
# kubectl rollout status gives up when the API server goes away: then wait for it to come back and
# watch again, relaying the supervisors' restarts meanwhile.
rollout_deadline=$((SECONDS + 300))
until
  kubectl rollout status ds/nginx --timeout="$((rollout_deadline - SECONDS > 1 ? rollout_deadline - SECONDS : 1))s" \
    > >(tee -a "$current_log") 2>&1 &
  rollout_pid=$!
  follow "$rollout_pid"
  wait "$rollout_pid"
do
  if [ $SECONDS -ge $rollout_deadline ]; then
    echo "    the rollout did not finish within 300s" | tee -a "$current_log" >&2
    false
  fi
  if ! kubectl get --raw=/readyz >>"$current_log" 2>&1; then
    echo "    demo: the API server is not answering; waiting for it (the rollout goes on once it is back)" | tee -a "$current_log"
    until kubectl get --raw=/readyz >>"$current_log" 2>&1; do
      relay_events
      if [ $SECONDS -ge $rollout_deadline ]; then
        echo "    the API server did not come back within the rollout's 300s" | tee -a "$current_log" >&2
        false
      fi
      sleep 2
    done
    echo "    demo: the API server is back; watching the rollout again" | tee -a "$current_log"
  else
    sleep 2
  fi
done
relay_events
echo
bold "$ kubectl get pods -o wide"
kubectl get pods -l app=nginx -o wide -L controller-revision-hash
echo
bold "$ kubectl rollout history ds/nginx"
kubectl rollout history ds/nginx

trap - ERR
echo
bold "Done. The cluster, the webhook and the controller keep running (logs: $logs/)."
echo "Their supervisors restart the webhook or the controller if it exits (the controller does when it"
echo "loses its leader lease, e.g. after an API server outage) and note it in $events."
echo "To use it:"
echo
echo "  export KUBECONFIG=$KUBECONFIG"
echo
echo "Stop everything with: $stop_command"
