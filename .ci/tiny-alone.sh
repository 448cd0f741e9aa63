#!/usr/bin/env bash
# .ci/tiny-alone.sh: each test marked tiny_model (tests/conftest.py), alone in its own pytest
# process, so that it trains its own session fixtures as a lone `pytest path::test` does: the
# result must not depend on the tests that ran before it. Exit 0 only if every one passed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
say() { printf 'tiny-alone: %s\n' "$*"; }
mapfile -t ids < <("$PY" -m pytest -o addopts= -q -p no:cacheprovider --collect-only -m tiny_model | grep '::')
[ ${#ids[@]} -gt 0 ] || { say "FAIL: no test is marked tiny_model"; exit 1; }
say "${#ids[@]} tests marked tiny_model, each alone"
failed=0
t0=$(date +%s)
log=$(mktemp)
for id in "${ids[@]}"; do
  start=$(date +%s)
  if "$PY" -m pytest -q -p no:cacheprovider "$id" >"$log" 2>&1; then
    say "pass $(( $(date +%s) - start ))s $id"
  else
    tail -40 "$log"; say "FAIL $(( $(date +%s) - start ))s $id"; failed=$((failed + 1))
  fi
done
rm -f "$log"
say "$failed of ${#ids[@]} failed; $(( $(date +%s) - t0 ))s"
[ $failed -eq 0 ]
