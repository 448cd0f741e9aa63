"""Walk-forward backtest of a forecaster checkpoint against naive, drift and GARCH(1,1)-t.

    python -m training.backtest --checkpoint checkpoints/forecaster-sp500 \
        --data ../shared/data/all_stocks_5yr.csv [--tickers A,B] [--last-days 250] [--horizons 1,5]

Each forecast is made from prices up to its origin only. Default tickers: those the checkpoint
held out of training. Per horizon: MAE, RMSE, MAE / naive MAE, directional accuracy beside the
base rate (share of up moves), and the coverage and mean width (% of price) of the interval at
the nominal level. Baselines:
- naive: the last price (random walk);
- drift: last price x exp(h x mean daily log return of the history up to the origin);
- GARCH(1,1) with Student-t errors (``arch``), fitted once per ticker on the returns before the
  first origin, then rolled forward with those parameters over data up to each origin; its
  h-day interval uses the summed variance forecasts and the fitted t quantile (an approximation
  for h > 1). Its point forecast is the fitted constant mean, like drift.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

from models.checkpoint import loaded_checkpoint
from models.forecaster import StockForecaster
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


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", default=None, help="price CSV (default: arch's S&P 500)")
    p.add_argument(
        "--tickers", nargs="+", default=None, help="tickers, space- or comma-separated (default: the held-out tickers)"
    )
    p.add_argument("--last-days", type=int, default=250)
    p.add_argument("--horizons", default="1,5")
    p.add_argument("--interval", type=float, default=0.8)
    p.add_argument("--csv", default="bench/results/backtest_per_ticker.csv")
    p.add_argument("--write-metrics", action="store_true", help="store the table in the model card")
    args = p.parse_args(argv)
    fc = StockForecaster.load(args.checkpoint)
    series = load_prices(args.data)
    held = loaded_checkpoint(fc.checkpoint).config["training"].get("heldout_tickers") or sorted(series)
    tickers = (
        [t for arg in args.tickers for t in arg.split(",") if t] if args.tickers else [t for t in held if t in series]
    )
    horizons = [int(h) for h in args.horizons.split(",")]
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
    Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
    with open(args.csv, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        f"Walk-forward over the last {args.last_days} days of {len(scored)} tickers "
        f"({'given' if args.tickers else 'held out of training'}); "
        f"interval {args.interval:.0%}; MAE ratio = MAE / naive MAE (per ticker, then averaged).",
        "",
        "| h | method | MAE ratio | RMSE ratio | direction | base rate | coverage | width % |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    summary = {}
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
    table = "\n".join(lines)
    print(table)
    print(f"per-ticker rows: {args.csv}")
    if args.write_metrics:
        from training.card import update_metrics

        command = command_line("training.backtest", argv)
        update_metrics(Path(args.checkpoint), {"backtest": {"table": table, "command": command, "summary": summary}})
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
