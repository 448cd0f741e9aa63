#!/usr/bin/env bash
# make container-test: build attnserve:latest, run it, wait for health, check /translate and
# /forecast answers (attention shapes and row sums), then the same through podman-compose.
# Exit 0 only if everything held. Needs root and Debian's packages (podman); where podman cannot
# run here it says why and exits 0 (skipped), or fails (exit 1) with ATTNSERVE_REQUIRE_CONTAINER=1
# (CI: .ci/run sets it), as the browser test does with ATTNSERVE_REQUIRE_BROWSER=1.
set -uo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
PORT=${CONTAINER_TEST_PORT:-18000}
PY=${PYTHON:-.venv/bin/python}
say() { printf 'container-test: %s\n' "$*"; }
skip() {  # a reason it cannot run: SKIP (exit 0) locally, FAIL (exit 1) where it is required
  if [ "${ATTNSERVE_REQUIRE_CONTAINER:-}" = 1 ]; then
    say "FAIL: $* (the container test is required here: ATTNSERVE_REQUIRE_CONTAINER=1)"; exit 1
  fi
  say "SKIP: $*"; exit 0
}

if [ -x "$SHARED/tools/container-env.sh" ]; then
  if ! env_lines=$("$SHARED/tools/container-env.sh"); then
    skip "$SHARED/tools/container-env.sh failed (podman cannot be set up here)"
  fi
  eval "$env_lines"
fi
if ! command -v podman >/dev/null 2>&1; then skip "podman is not installed"; fi
if ! podman info >/dev/null 2>&1; then skip "podman cannot run here: $(podman info 2>&1 | tail -1)"; fi

set -e
torch_spec=$(grep -o '"torch==[^"]*"' pyproject.toml | tr -d '"')  # the one pin
wheel=$(ls /opt/wheels/torch-"${torch_spec#torch==}"*cp311*.whl 2>/dev/null | head -1 || true)
build_args=(--build-arg "TORCH_SPEC=$torch_spec")
if [ -n "$wheel" ]; then
  cp -u "$wheel" docker/wheels/
  build_args+=(--build-arg TORCH_SOURCE=/wheels)
  say "torch from the local wheel $(basename "$wheel")"
fi
say "building attnserve:latest"
podman build --pull=never "${build_args[@]}" --target api -t attnserve:latest . >/tmp/attnserve-build.log 2>&1 \
  || { tail -30 /tmp/attnserve-build.log; say "FAIL: build"; exit 1; }
say "image size: $(podman image inspect attnserve:latest --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"

check() {  # $1: base URL; waits for health, then checks both endpoints
  "$PY" - "$1" <<'PYEOF'
import json, sys, time, urllib.request
base = sys.argv[1]
def call(path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, json.loads(r.read())
for _ in range(120):
    try:
        if call("/healthz")[0] == 200 and call("/readyz")[0] == 200:
            break
    except Exception:
        time.sleep(1)
else:
    sys.exit("not healthy and ready after 120 s")
status, t = call("/translate", {"text": "I am very happy.", "beam_size": 5})
assert status == 200 and t["translation"], t
assert len(t["attention"]) == len(t["target_tokens"]) and all(len(r) == len(t["source_tokens"]) for r in t["attention"])
assert all(abs(sum(r) - 1) < 1e-3 for r in t["attention"])
prices = [100 * (1.001 ** i) for i in range(80)]
status, f = call("/forecast", {"prices": prices, "horizon": 5})
assert status == 200 and len(f["attention"]) == 5 and all(len(r) == f["window"] for r in f["attention"])
assert all(abs(sum(r) - 1) < 1e-3 for r in f["attention"])
assert all(lo <= m <= hi for lo, m, hi in zip(f["lower"], f["forecast"], f["upper"]))
print("ok:", t["translation"], "| forecast", [round(x, 2) for x in f["forecast"]])
PYEOF
}

status=0
podman rm -f -t 1 attnserve-test >/dev/null 2>&1 || true
say "podman run"
podman run -d --name attnserve-test -p 127.0.0.1:$PORT:8000 attnserve:latest >/dev/null
if check "http://127.0.0.1:$PORT"; then
  podman healthcheck run attnserve-test && say "HEALTHCHECK passes" || { say "FAIL: healthcheck"; status=1; }
  start=$(date +%s); podman stop -t 10 attnserve-test >/dev/null; stopped=$(( $(date +%s) - start ))
  say "stopped in ${stopped}s"; [ "$stopped" -lt 10 ] || { say "FAIL: SIGTERM not handled"; status=1; }
else
  podman logs attnserve-test | tail -20; say "FAIL: podman run checks"; status=1
fi
podman rm -f -t 1 attnserve-test >/dev/null 2>&1 || true

say "podman-compose up, 2 uvicorn workers (WEB_CONCURRENCY=2)"
export PORT WEB_CONCURRENCY=2
# its own project name, so the volume it makes and removes (-v) is never a user's trained models
compose=(podman-compose -p attnserve-container-test)
"${compose[@]}" down -v -t 2 >/dev/null 2>&1 || true
if "${compose[@]}" up -d api >/tmp/attnserve-compose.log 2>&1 && check "http://127.0.0.1:$PORT" \
   && "$PY" - "http://127.0.0.1:$PORT" <<'PYEOF'
import json, sys, urllib.request
workers = {}
for _ in range(400):  # a new connection each time: the kernel spreads them over the workers
    with urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=10) as r:
        health = json.loads(r.read())
    workers[health["pid"]] = health["torch_threads"]
    if len(workers) == 2:
        break
assert len(workers) == 2, f"only worker(s) {workers} answered"
print("ok: 2 workers (pid: torch threads)", workers)
PYEOF
then
  say "compose checks passed"
else
  tail -20 /tmp/attnserve-compose.log; say "FAIL: compose checks"; status=1
fi
"${compose[@]}" down -v -t 2 >/dev/null 2>&1 || true
[ $status -eq 0 ] && say "PASS" || say "FAIL"
exit $status
