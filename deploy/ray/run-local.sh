#!/usr/bin/env bash
# `make serve-ray`: a local Ray cluster of CPUS CPUs (no dashboard, no usage stats) and the application
# of deploy/ray/serve.yaml on HOST:PORT, in the foreground. Ctrl-C or a SIGTERM stops the application
# (its replicas finish their requests: graceful_shutdown_timeout_s), then the cluster.
#   VENV=.venv HOST=127.0.0.1 PORT=8000 CPUS=2 INGRESS=haproxy|proxy deploy/ray/run-local.sh
set -euo pipefail
VENV=${VENV:-.venv} HOST=${HOST:-127.0.0.1} PORT=${PORT:-8000} CPUS=${CPUS:-$(nproc)} INGRESS=${INGRESS:-haproxy}
case "$INGRESS" in
  proxy) ;;
  haproxy)  # an env file: KEY=VALUE lines, values literal (as `podman run --env-file` reads them)
    while IFS='=' read -r key value; do
      case "$key" in ''|'#'*) ;; *) export "$key=$value" ;; esac
    done < deploy/ray/haproxy.env ;;
  *) echo "run-local.sh: INGRESS must be proxy or haproxy, not '$INGRESS'" >&2; exit 2 ;;
esac
# every request's log line would otherwise travel from each replica through Ray's GCS to this
# terminal, CPU taken from the replicas; the logs stay in /tmp/ray/session_latest/logs
export RAY_LOG_TO_DRIVER=${RAY_LOG_TO_DRIVER:-0}
config="$VENV/serve-ray.yaml"
sed "s/port: 8000/port: $PORT/; s/host: 0.0.0.0/host: $HOST/" deploy/ray/serve.yaml > "$config"
export RAY_USAGE_STATS_ENABLED=0
"$VENV/bin/ray" start --head --num-cpus "$CPUS" --include-dashboard=false --disable-usage-stats

pid=
stop() {
  trap - EXIT INT TERM
  # the application first: its replicas finish their requests (graceful_shutdown_timeout_s); `serve
  # shutdown` would need the dashboard, which is off
  "$VENV/bin/python" -c 'import ray; from ray import serve; ray.init(address="auto", log_to_driver=False); serve.shutdown()' || true
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" || true; fi
  "$VENV/bin/ray" stop
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$VENV/bin/serve" run "$config" -a auto &
pid=$!
wait "$pid"
