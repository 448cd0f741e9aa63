"""Walk-forward backtest of a forecaster checkpoint against naive, drift and GARCH(1,1)-t.

    python -m training.backtest --checkpoint checkpoints/forecaster-sp500 \\
        --data ../shared/data/all_stocks_5yr.csv [--tickers A,B] [--last-days 250] [--horizons 1,5]

Each forecast is made from prices up to its origin only. Default tickers: those the checkpoint
held out of training (config.json training.heldout_tickers); the table's first line says how
many tickers were scored and how many of them the checkpoint held out or trained on. Per
horizon: MAE, RMSE, MAE / naive MAE, directional accuracy beside the base rate (share of up
moves), and the coverage and mean width (% of price) of the interval at the nominal level.
Baselines:
- naive: the last price (random walk);
- drift: last price x exp(h x mean daily log return of the history up to the origin);
- GARCH(1,1) with Student-t errors (``arch``), fitted once per ticker on the returns before the
  first origin, then rolled forward with those parameters over data up to each origin; its
  h-day interval uses the summed variance forecasts and the fitted t quantile (an approximation
  for h > 1). Its point forecast is the fitted constant mean, like drift.

Prints the per-ticker CSV's path (--csv), then the markdown table, last.
"""

from __future__ import annotations

import argparse
import csv
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

from models.checkpoint import loaded_checkpoint
from models.forecaster import StockForecaster
from training.cli import parser
from training.common import command_line
from training.prices import load_prices

METHODS = ("model", "naive", "drift", "garch")


def garch_paths(prices: np.ndarray, origins: np.ndarray, horizon: int, level: float):
    """-> point (N, H), lower (N, H), upper (N, H) from GARCH(1,1)-t for each origin index."""
    from arch import arch_model

    returns = 100 * np.diff(np.log(prices))  # returns[i] is the move into day i + 1
    first = int(origins[0])  # an origin at day t has seen returns[: t]
    model = arch_model(returns, mean="Constant", vol="GARCH", p=1, q=1, dist="t")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(last_obs=first, disp="off")
        fc = fit.forecast(horizon=horizon, start=first - 1, reindex=False)
    variance = fc.variance.values[origins - first] / 1e4  # (N, H) daily variances
    mu = fit.params["mu"] / 100
    nu = fit.params["nu"]
    h = np.arange(1, horizon + 1)
    cum_sd = np.sqrt(np.cumsum(variance, axis=1))
    zq = stats.t.ppf(0.5 + level / 2, nu) * np.sqrt((nu - 2) / nu)
    last = prices[origins][:, None]
    return (last * np.exp(mu * h), last * np.exp(mu * h - zq * cum_sd), last * np.exp(mu * h + zq * cum_sd))


def ticker_forecasts(
    fc: StockForecaster, prices: np.ndarray, last_days: int, horizon: int, level: float
) -> tuple[np.ndarray, dict]:
    """-> origins (N,), {method: (point, lower|None, upper|None)} each (N, H)."""
    lookback = fc.config.lookback
    start = max(lookback, len(prices) - last_days - horizon)
    origins = np.arange(start, len(prices) - horizon)
    preds = fc.predict([prices[: t + 1] for t in origins], horizon, level)
    model = tuple(np.array([getattr(p, k) for p in preds]) for k in ("forecast", "lower", "upper"))
    last = prices[origins][:, None]
    h = np.arange(1, horizon + 1)
    logp = np.log(prices)
    drift_mu = np.array([(logp[t] - logp[0]) / t for t in origins])[:, None]
    return origins, {
        "model": model,
        "naive": (np.repeat(last, horizon, 1), None, None),
        "drift": (last * np.exp(drift_mu * h), None, None),
        "garch": garch_paths(prices, origins, horizon, level),
    }


def score(prices, origins, paths, h: int) -> dict:
    actual, last = prices[origins + h], prices[origins]
    point, lower, upper = paths
    err = point[:, h - 1] - actual
    up = actual > last
    row = {
        "n": len(origins),
        "mae": np.abs(err).mean(),
        "rmse": np.sqrt((err**2).mean()),
        "direction": np.mean((point[:, h - 1] > last) == up),
        "base_rate": up.mean(),
    }
    if lower is not None:
        inside = (lower[:, h - 1] <= actual) & (actual <= upper[:, h - 1])
        row["coverage"] = inside.mean()
        row["width_pct"] = (100 * (upper[:, h - 1] - lower[:, h - 1]) / last).mean()
    return row


def parse_args(argv=None) -> argparse.Namespace:
    p = parser("training.backtest", __doc__)
    p.add_argument("--checkpoint", required=True, help="forecaster checkpoint folder")
    p.add_argument("--data", default=None, help="price CSV (default: arch's S&P 500 index)")
    p.add_argument(
        "--tickers",
        nargs="+",
        default=None,
        help="tickers, space- or comma-separated (default: those the checkpoint held out of training)",
    )
    p.add_argument("--last-days", type=int, default=250, help="forecast origins: the last N days with an outcome")
    p.add_argument("--horizons", default="1,5", help="days ahead to score, comma-separated")
    p.add_argument("--interval", type=float, default=0.8, help="nominal coverage of the scored interval")
    p.add_argument("--csv", default="work/backtest_per_ticker.csv", help="per-ticker rows go here")
    p.add_argument("--write-metrics", action="store_true", help="store the table in the model card")
    return p.parse_args(argv)


def count(n: int, noun: str) -> str:
    """``1 ticker``, ``2 tickers``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def tickers_phrase(scored: list[str], held: set[str], given: bool) -> str:
    """How many tickers were scored and how many of them the checkpoint held out of training,
    e.g. ``3 tickers given (1 held out of training, 2 trained on)``."""
    n_held = sum(t in held for t in scored)
    n_trained = len(scored) - n_held
    every = "all " if len(scored) > 1 else ""
    if n_trained == 0:
        kind = f"{every}held out of training"
    elif n_held == 0:
        kind = f"{every}trained on"
    else:
        kind = f"{n_held:,} held out of training, {n_trained:,} trained on"
    return f"{count(len(scored), 'ticker')}{' given' if given else ''} ({kind})"


def data_note(trained_on: str | None, data: str | None) -> str:
    """Where the checkpoint's training data is not the backtest's (then "trained on" means
    "not held out": the same ticker names, other prices), a note saying so; else ""."""
    name = Path(data).name if data else None
    if trained_on is None or trained_on == name or (name is None and trained_on.startswith("arch.")):
        return ""
    return f"; the checkpoint trained on {trained_on}, not {name or 'the arch S&P 500 index'}"


def choose_tickers(args: argparse.Namespace, series: dict, held: set[str]) -> list[str]:
    """The given tickers (all must be in the data), else the held-out ones the data has, else all."""
    if not args.tickers:
        return [t for t in sorted(held) if t in series] or sorted(series)
    tickers = list(dict.fromkeys(t for arg in args.tickers for t in arg.split(",") if t))
    unknown = [t for t in tickers if t not in series]
    if unknown:
        known = ", ".join(sorted(series)[:5])
        raise ValueError(f"not in the data: {', '.join(unknown)} (it has {count(len(series), 'ticker')}: {known}, ...)")
    return tickers


def score_tickers(fc: StockForecaster, series: dict, tickers: list[str], args, horizons: list[int]):
    """-> per-ticker rows, {(method, h): [row per scored ticker]}, the tickers scored."""
    pooled: dict[tuple[str, int], list[dict]] = {(m, h): [] for m in METHODS for h in horizons}
    rows, scored = [], []
    for ticker in tickers:
        prices = series[ticker].values.astype(np.float64)
        if len(prices) < fc.config.lookback + args.last_days // 2:
            print(f"skip {ticker}: {len(prices)} prices, too short for the window", file=sys.stderr)
            continue
        scored.append(ticker)
        origins, paths = ticker_forecasts(fc, prices, args.last_days, max(horizons), args.interval)
        for method in METHODS:
            for h in horizons:
                row = score(prices, origins, paths[method], h)
                rows.append({"ticker": ticker, "method": method, "horizon": h, **row})
                pooled[(method, h)].append(row)
    return rows, pooled, scored


def summary_rows(pooled: dict, horizons: list[int]) -> tuple[list[str], dict]:
    """Markdown rows (averaged per ticker) and the summary figures, per horizon and method."""
    lines, summary = [], {}
    for h in horizons:
        naive = pooled[("naive", h)]
        for method in METHODS:
            rs = pooled[(method, h)]
            mae_ratio = np.mean([r["mae"] / n["mae"] for r, n in zip(rs, naive)])
            rmse_ratio = np.mean([r["rmse"] / n["rmse"] for r, n in zip(rs, naive)])
            cov = np.mean([r["coverage"] for r in rs]) if "coverage" in rs[0] else None
            width = np.mean([r["width_pct"] for r in rs]) if "width_pct" in rs[0] else None
            direction = "—" if method == "naive" else f"{np.mean([r['direction'] for r in rs]):.3f}"
            summary[f"{method}_h{h}"] = {
                "mae_ratio": round(float(mae_ratio), 4),
                "coverage": None if cov is None else round(float(cov), 4),
                "width_pct": None if width is None else round(float(width), 3),
            }
            lines.append(
                f"| {h} | {method} | {mae_ratio:.4f} | {rmse_ratio:.4f} | {direction} | "
                f"{np.mean([r['base_rate'] for r in rs]):.3f} | "
                f"{'—' if cov is None else f'{cov:.3f}'} | {'—' if width is None else f'{width:.2f}'} |"
            )
    return lines, summary


def run(args: argparse.Namespace, argv) -> dict:
    """Backtest, write the per-ticker CSV, print the table (last) -> the summary figures."""
    fc = StockForecaster.load(args.checkpoint)
    series = load_prices(args.data)
    training = loaded_checkpoint(fc.checkpoint).config.get("training", {})
    held = set(training.get("heldout_tickers") or [])
    horizons = [int(h) for h in args.horizons.split(",")]
    rows, pooled, scored = score_tickers(fc, series, choose_tickers(args, series, held), args, horizons)
    if not scored:
        raise ValueError(f"no ticker has the {fc.config.lookback + args.last_days // 2} prices the window needs")
    Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
    with open(args.csv, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)
    body, summary = summary_rows(pooled, horizons)
    header = (
        f"Walk-forward over the last {args.last_days} days of {tickers_phrase(scored, held, bool(args.tickers))}"
        f"{data_note(training.get('data'), args.data)}; interval {args.interval:.0%}; "
        "MAE ratio = MAE / naive MAE (per ticker, then averaged)."
    )
    table = "\n".join(
        [
            header,
            "",
            "| h | method | MAE ratio | RMSE ratio | direction | base rate | coverage | width % |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
            *body,
        ]
    )
    print(f"per-ticker rows: {args.csv}\n")
    print(table)
    if args.write_metrics:
        from training.card import update_metrics

        command = command_line("training.backtest", argv)
        update_metrics(Path(args.checkpoint), {"backtest": {"table": table, "command": command, "summary": summary}})
    return summary


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        return run(args, argv)
    except (ValueError, OSError) as error:
        raise SystemExit(f"training.backtest: {error}") from None


if __name__ == "__main__":
    main()
