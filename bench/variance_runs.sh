#!/bin/bash
# The forecaster with its interval's width made by its attention, and its controls, at equal budget
# (at most 4 epochs, patience 3, the same seed, 1 thread each), then each one's backtest on the
# held-out tickers (docs/results/forecaster.md, "Attention that makes the width"). About 30 min on
# 2 cores per stage. DATA: the S&P 500 price file. STAGES: which to run (default: both).
#   window:  the weights over the 60-day window alone, a learned constant long-run level
#   history: the long-run level a learned multiple of the ticker's own 250-day variance (shipped)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/all_stocks_5yr.csv}
STAGES=${STAGES:-"window history"}
mkdir -p work/logs
run() {  # name, then the training options
  local name=$1; shift
  .venv/bin/python -m training.forecasting.train --data "$DATA" --out "work/fc-var-$name" "$@" --threads 1 \
    --eval-every 400 --no-progress --logdir "runs/fc-var-$name" --max-minutes 45 > "work/logs/fc-var-$name.log" 2>&1
  .venv/bin/python -m training.forecasting.backtest --checkpoint "work/fc-var-$name" --data "$DATA" --last-days 250 \
    --horizons 1,5 --intervals 0.8,0.9 --csv "work/backtest-var-$name.csv" > "work/logs/backtest-var-$name.log" 2>&1
}
if [[ " $STAGES " == *" window "* ]]; then
  run attention --variance attention &
  run uniform --variance uniform &
  run exponential --variance exponential &
  wait
  run longrun --variance attention --long-run
fi
if [[ " $STAGES " == *" history "* ]]; then
  history=(--long-run --history-days 250)
  run history-attention --variance attention "${history[@]}" &   # copied to checkpoints/forecaster-sp500
  run history-uniform --variance uniform "${history[@]}" &
  wait
  run history-exponential --variance exponential "${history[@]}"
fi
