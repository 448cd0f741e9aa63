#!/usr/bin/env bash
# Builds the forecasting peers' venvs under work/peers/ (git-ignored; never dependencies of attnserve):
#   work/peers/statsforecast-venv   statsforecast (AutoETS, AutoARIMA)
#   work/peers/neuralforecast-venv  neuralforecast (NHITS) on pyproject.toml's CPU torch, pinned
# Usage: bash bench/peers/setup_forecast_peers.sh [statsforecast|neuralforecast]...  (default: both)
# pip output: work/peers/<name>-pip.log
set -euo pipefail
cd "$(dirname "$0")/../.."
PEERS=work/peers
mkdir -p "$PEERS"
TORCH=$(grep -o '"torch==[^"]*"' pyproject.toml | tr -d '"')   # torch==2.13.0, the project's pin
STATSFORECAST=statsforecast==2.1.1
NEURALFORECAST=neuralforecast==3.3.0

build() {  # name, import check, then the pip install argument lists (one string each)
    local name=$1 check=$2; shift 2
    local venv=$PEERS/$name-venv log=$PEERS/$name-pip.log
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check" 2>/dev/null; then
        echo "venv $venv: ready"; return
    fi
    echo "building $venv (pip output in $log)"
    python3 -m venv "$venv"
    : >"$log"
    for args in "$@"; do
        echo "\$ $venv/bin/python -m pip $args" | tee -a "$log"
        # shellcheck disable=SC2086  # each string is a pip argument list
        nice -n 19 "$venv/bin/python" -m pip $args >>"$log" 2>&1
    done
    "$venv/bin/python" -c "$check"
    echo "venv $venv: ready"
}

for peer in "${@:-statsforecast neuralforecast}"; do
  for p in $peer; do
    case $p in
    statsforecast)
        build statsforecast "import statsforecast, pandas" \
            "install --upgrade pip" "install $STATSFORECAST" "check" ;;
    neuralforecast)
        # the CPU torch wheel first, then held to that version by a constraints file, so that
        # nothing pulls CUDA wheels or another torch
        mkdir -p "$PEERS"
        echo "$TORCH" >"$PEERS/neuralforecast-constraints.txt"
        build neuralforecast "import neuralforecast, torch; assert torch.__version__.startswith('${TORCH#torch==}')" \
            "install --upgrade pip" "install $TORCH" \
            "install -c $PEERS/neuralforecast-constraints.txt $NEURALFORECAST" "check" ;;
    *) echo "unknown peer: $p (statsforecast or neuralforecast)" >&2; exit 2 ;;
    esac
  done
done
