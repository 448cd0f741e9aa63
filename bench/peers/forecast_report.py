"""The forecasting peers' report: our backtest with their forecast files, per-ticker wins, speed.

    .venv/bin/python -m bench.peers.forecast_report [--out bench/results/forecast_peers.md]
        [--peers work/peers/statsforecast-autoets.csv ...]

Runs ``python -m training.forecasting.backtest`` on the shipped checkpoint with ``--peers`` (default: every
``work/peers/statsforecast-*.csv`` and ``neuralforecast-*.csv``), so every method is scored by the
same code on the same origins; then counts, per horizon and level, the held-out tickers on which
our interval score is lower than each peer's, and tabulates fit seconds and forecasts/s from the
peers' JSON files and ``work/peers/attnserve.json`` (``bench.peers.forecast_ours``).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from bench.peers.forecast_data import CHECKPOINT, DATA, LEVELS, OUT, ROOT, rel
from training.cli import parser

PER_TICKER = OUT / "backtest_per_ticker.csv"


def backtest(peers: list[Path], data: Path) -> tuple[str, str]:
    """-> (the command as typed, the backtest's table). Raises OSError if it fails."""
    args = ["--checkpoint", rel(CHECKPOINT), "--data", rel(data), "--last-days", "250", "--horizons", "1,5"]
    args += ["--csv", rel(PER_TICKER), "--peers", *map(rel, peers)]
    done = subprocess.run(
        [sys.executable, "-m", "training.forecasting.backtest", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise OSError(f"training.forecasting.backtest failed: {done.stderr.strip()[-2000:]}")
    table = done.stdout.split("\n\n", 1)[1].strip()  # after "per-ticker rows: ..."
    return " ".join([".venv/bin/python -m training.forecasting.backtest", *args]), table


def wins(methods: list[str]) -> tuple[list[str], str]:
    """Markdown rows: per horizon, level and peer, the tickers where our interval score is lower
    and the mean difference; and the verdict line: ours ahead of each peer everywhere or not."""
    scores: dict[tuple[str, str], dict[str, dict[str, str]]] = defaultdict(dict)
    with open(PER_TICKER, newline="") as handle:
        for row in csv.DictReader(handle):
            scores[(row["horizon"], row["ticker"])][row["method"]] = row
    lines, behind = [], defaultdict(list)
    for h in sorted({h for h, _ in scores}, key=int):
        tickers = [t for hh, t in scores if hh == h]
        for level in LEVELS:
            key = f"score_{level}"
            for peer in methods:
                diffs = [float(scores[(h, t)]["model"][key]) - float(scores[(h, t)][peer][key]) for t in tickers]
                mean = sum(diffs) / len(diffs)
                lines.append(f"| {h} | {level}% | {peer} | {sum(d < 0 for d in diffs)} of {len(diffs)} | {mean:+.3f} |")
                if mean >= 0:
                    behind[peer].append(f"h = {h} at {level}%: {mean:+.3f}")
    ahead = [m for m in methods if m not in behind]
    verdict = "Goal, ours ahead of each peer on mean interval score at every horizon and level: "
    if not behind:
        return lines, verdict + "**met**."
    misses = "; ".join(f"{m} ({', '.join(where)})" for m, where in behind.items())
    verdict += f"**not met** against {misses}"
    verdict += f"; met against {', '.join(ahead)}." if ahead else "."
    return lines, verdict


def figure(value: float | None, spec: str) -> str:
    """``value`` formatted, or "—" where the run did not record it."""
    return "—" if value is None else format(value, spec)


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
        cells = [method, f"{s['fit_seconds']:,.1f}", figure(s.get("fit_cpu_seconds"), ",.1f"), how]
        cells += [f"{s['forecasts']:,}", f"{s['predict_seconds']:.1f}", f"{s['forecasts_per_second']:,.0f}"]
        cells += [figure(s.get("forecasts_per_cpu_second"), ",.0f"), str(load)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def report(peers: list[Path], data: Path) -> str:
    command, table = backtest(peers, data)
    methods = [p.stem for p in peers]
    win_rows, verdict = wins(methods)
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
            *win_rows,
            "",
            verdict,
            "",
            "Fit and prediction time, 1 thread each, on this 2-core machine shared with other work "
            "(the 1-minute load average when each finished is in the last column; wall-clock timings move "
            "with it, so the CPU seconds of the fitting or predicting process are given too where the run "
            "recorded them; —: a run from before they were measured, or ours' fit, which is its training "
            "time from the card). A forecast is one origin's path h = 1..5 with its intervals. Ours: "
            "`StockForecaster.predict` on the 250 origins of a ticker per call (given bars where the "
            "checkpoint reads them, as the backtest gives them).",
            "",
            "| method | fit s | fit CPU s | fit | forecasts | predict s | forecasts/s | forecasts / CPU s | load |",
            "|---|---:|---:|---|---:|---:|---:|---:|---:|",
            *speed(methods),
            "",
        ]
    )


def variant_last(path: Path) -> tuple[int, str]:
    """``neuralforecast-nhits`` before ``neuralforecast-nhits-seed1``."""
    return path.stem.count("-"), path.stem


def main(argv=None) -> str:
    p = parser("bench.peers.forecast_report", __doc__)
    p.add_argument("--peers", nargs="+", default=None, help="forecast files (default: every peer's in work/peers)")
    p.add_argument("--data", default=rel(DATA), help="the Kaggle price file")
    p.add_argument("--out", default="bench/results/forecast_peers.md", help="the report goes here")
    args = p.parse_args(argv)
    # default: the statistical peers, then the networks, each library's defaults before its variants
    found = sorted(OUT.glob("statsforecast-*.csv")) + sorted(OUT.glob("neuralforecast-*.csv"), key=variant_last)
    peers = [Path(f) for f in args.peers] if args.peers else found
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
