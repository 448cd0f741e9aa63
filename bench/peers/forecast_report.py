"""The forecasting peers' report: our backtest with their forecast files, per-ticker wins, speed.

    .venv/bin/python -m bench.peers.forecast_report [--out bench/results/forecast_peers.md]
        [--peers work/peers/statsforecast-autoets.csv ...]

Runs ``python -m training.backtest`` on the shipped checkpoint with ``--peers`` (default: every
``work/peers/statsforecast-*.csv`` and ``neuralforecast-*.csv``), so every method is scored by the
same code on the same origins; then counts, per horizon and level, the held-out tickers on which
our interval score is lower than each peer's, and tabulates fit seconds and forecasts/s from the
peers' JSON files and ``work/peers/attnserve.json`` (``bench.peers.forecast_ours``).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from bench.peers.forecast_data import CHECKPOINT, DATA, LEVELS, OUT, ROOT
from training.cli import parser

PER_TICKER = OUT / "backtest_per_ticker.csv"


def rel(path: str | Path) -> str:
    """``path`` as typed from the repository root."""
    return os.path.relpath(Path(path).resolve(), ROOT)


def backtest(peers: list[Path], data: Path) -> tuple[str, str]:
    """-> (the command as typed, the backtest's table). Raises OSError if it fails."""
    args = ["--checkpoint", rel(CHECKPOINT), "--data", rel(data), "--last-days", "250", "--horizons", "1,5"]
    args += ["--csv", rel(PER_TICKER), "--peers", *map(rel, peers)]
    done = subprocess.run(
        [sys.executable, "-m", "training.backtest", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise OSError(f"training.backtest failed: {done.stderr.strip()[-2000:]}")
    table = done.stdout.split("\n\n", 1)[1].strip()  # after "per-ticker rows: ..."
    return " ".join([".venv/bin/python -m training.backtest", *args]), table


def wins(methods: list[str]) -> list[str]:
    """Markdown rows: per horizon, level and peer, the tickers where our interval score is lower."""
    scores: dict[tuple[str, str], dict[str, dict[str, str]]] = defaultdict(dict)
    with open(PER_TICKER, newline="") as handle:
        for row in csv.DictReader(handle):
            scores[(row["horizon"], row["ticker"])][row["method"]] = row
    lines = []
    for h in sorted({h for h, _ in scores}, key=int):
        tickers = [t for hh, t in scores if hh == h]
        for level in LEVELS:
            key = f"score_{level}"
            for peer in methods:
                diffs = [float(scores[(h, t)]["model"][key]) - float(scores[(h, t)][peer][key]) for t in tickers]
                won = sum(d < 0 for d in diffs)
                mean = sum(diffs) / len(diffs)
                lines.append(f"| {h} | {level}% | {peer} | {won} of {len(diffs)} | {mean:+.3f} |")
    return lines


def speed(methods: list[str]) -> list[str]:
    """Markdown rows from each method's JSON: fit seconds and forecasts/s."""
    lines = []
    for method in ["attnserve", *methods]:
        s = json.loads((OUT / f"{method}.json").read_text())
        if "fitted" in s:
            how = "once per ticker"
        elif "steps" in s:
            how = f"{s['steps']} steps"
        else:
            how = "its training run (card)"
        load = s.get("load_average_1min_at_end", "—")
        lines.append(
            f"| {method} | {s['fit_seconds']:,.1f} | {how} | "
            f"{s['forecasts']:,} | {s['predict_seconds']:.1f} | {s['forecasts_per_second']:,.0f} | {load} |"
        )
    return lines


def report(peers: list[Path], data: Path) -> str:
    command, table = backtest(peers, data)
    methods = [p.stem for p in peers]
    return "\n".join(
        [
            "# Our forecaster beside forecasting libraries",
            "",
            "`.venv/bin/python -m bench.peers.forecast_report` (method and peer commands: `bench/peers/README.md`).",
            "",
            f"    {command}",
            "",
            table,
            "",
            "Tickers on which our interval score is lower than the peer's (of the held-out tickers scored), "
            "and the mean per-ticker difference ours - peer (% of the origin price; negative: ours lower):",
            "",
            "| h | level | peer | ours lower | mean difference |",
            "|---:|---:|---|---:|---:|",
            *wins(methods),
            "",
            "Fit and prediction time, 1 thread each, on this 2-core machine shared with other work "
            "(the 1-minute load average when each finished is in the last column; timings move with it). "
            "A forecast is one origin's path h = 1..5 with its intervals. Ours: `StockForecaster.predict` "
            "on the 250 origins of a ticker per call; its fit time is the checkpoint's training time.",
            "",
            "| method | fit s | fit | forecasts | predict s | forecasts/s | load |",
            "|---|---:|---|---:|---:|---:|---:|",
            *speed(methods),
            "",
        ]
    )


def main(argv=None) -> str:
    p = parser("bench.peers.forecast_report", __doc__)
    p.add_argument("--peers", nargs="+", default=None, help="forecast files (default: every peer's in work/peers)")
    p.add_argument("--data", default=str(DATA), help="the Kaggle price file")
    p.add_argument("--out", default="bench/results/forecast_peers.md", help="the report goes here")
    args = p.parse_args(argv)
    peers = [Path(f) for f in args.peers] if args.peers else sorted(OUT.glob("statsforecast-*.csv"))
    peers += [] if args.peers else sorted(OUT.glob("neuralforecast-*.csv"))
    try:
        if not peers:
            raise OSError(f"no forecast files in {rel(OUT)}: run the peers first (bench/peers/README.md)")
        text = report(peers, Path(args.data))
        Path(args.out).write_text(text)
    except (ValueError, OSError) as error:
        raise SystemExit(f"bench.peers.forecast_report: {error}") from None
    print(text)
    return text


if __name__ == "__main__":
    main()
