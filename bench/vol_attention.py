"""Does the forecaster's attention earn its place, and does it point at anything? Checkpoints side
by side on the tickers each held out of training, over their last 250 days.

    .venv/bin/python -m bench.vol_attention --data ../shared/data/all_stocks_5yr.csv \\
        --checkpoints work/fc-var-attention work/fc-var-uniform work/fc-var-exponential checkpoints/forecaster-sp500

Per checkpoint (``training.forecasting.backtest``'s walk-forward, the same origins for all):

- interval (Winkler) score at h = 1 and h = 5, 80% and 90%, and its ratio to GARCH(1,1)-t's (pooled
  over all origins), coverage, and MAE / naive;
- the attention: mean ``attention_uniformity`` (entropy / log L; 1 = uniform) at h = 1 and over
  every step; and on the windows holding a day whose return is beyond 4 standard deviations of its
  window's returns, that day's weight at h = 1 in units of the uniform weight 1/L (median, 10th and
  90th percentiles, and the share of such days at 3x uniform or more), and for a model whose
  attention makes the width, the share of the h = 1 variance estimate that day carries (median;
  a typical day's is about 1/L).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from models.forecasting.forecaster import StockForecaster, uniformity
from training.cli import parser
from training.forecasting.backtest import main as backtest
from training.forecasting.backtest import origins_of
from training.forecasting.prices import load_bars

SHOCK_SD = 4.0
LAST_DAYS = 250


def scores(checkpoint: str, data: str) -> dict:
    """The backtest's summary figures (its table printed to nowhere)."""
    argv = ["--checkpoint", checkpoint, "--data", data, "--last-days", str(LAST_DAYS), "--horizons", "1,5"]
    argv += ["--intervals", "0.8,0.9", "--csv", f"work/bench-vol-attention-{Path(checkpoint).name}.csv"]
    with contextlib.redirect_stdout(io.StringIO()):
        return backtest(argv)


def horizon_cells(m: dict) -> list[str]:
    """A method's four cells at one horizon: scores (ratio to GARCH), coverage, MAE / naive."""
    cells = [f"{m[f'score_{level}']:.3f} ({m[f'score_ratio_pooled_{level}']:.3f})" for level in (80, 90)]
    return [*cells, f"{m['coverage_80']:.3f} / {m['coverage_90']:.3f}", f"{m['mae_ratio']:.4f}"]


def attention_figures(fc: StockForecaster, data: dict, tickers: list[str]) -> dict:
    """Uniformity and shock-day weights over every origin of ``tickers``."""
    lookback = fc.config.lookback
    first, every, shocks, carried = [], [], [], []
    for ticker in tickers:
        bars, _ = data[ticker]
        origins = origins_of(len(bars), lookback, LAST_DAYS, 5)
        history = [bars.window(t + 1, fc.config.days_read) for t in origins]
        _, attention, shares = fc.quantile_paths(history, 5)  # (N, 5, L), (N, 5, L + 1) or None
        for k, (window, weights) in enumerate(zip(history, attention)):
            u = uniformity(weights)
            first.append(u[0])
            every += u
            returns = np.diff(np.log(window.close))[-lookback:]  # (L,) the day each return ends on
            sd = returns.std()
            if sd > 0:
                days = np.flatnonzero(np.abs(returns) > SHOCK_SD * sd)
                shocks += [weights[0, j] * lookback for j in days]
                if shares is not None:
                    carried += [shares[k, 0, j] for j in days]
    ratios = np.array(shocks)
    return {
        "uniformity_h1": float(np.mean(first)),
        "uniformity": float(np.mean(every)),
        "shock_days": len(ratios),
        "shock_median": float(np.median(ratios)) if len(ratios) else float("nan"),
        "shock_p10": float(np.percentile(ratios, 10)) if len(ratios) else float("nan"),
        "shock_p90": float(np.percentile(ratios, 90)) if len(ratios) else float("nan"),
        "shock_3x": float((ratios >= 3).mean()) if len(ratios) else float("nan"),
        "shock_share": float(np.median(carried)) if carried else float("nan"),
    }


def main(argv: list[str] | None = None) -> None:
    ap = parser("bench.vol_attention", __doc__)
    ap.add_argument("--data", required=True, help="the price CSV the checkpoints were trained on")
    ap.add_argument("--checkpoints", nargs="+", required=True, help="forecaster checkpoint folders")
    args = ap.parse_args(argv)
    data = load_bars(args.data)
    rows: list[tuple[str, str, list[str]]] = []
    attention_rows: list[str] = []
    garch: list[str] = []
    for checkpoint in args.checkpoints:
        fc = StockForecaster.load(checkpoint)
        held = [t for t in sorted(fc.loaded.config["training"].get("heldout_tickers") or []) if t in data]
        s = scores(checkpoint, args.data)
        name, mode = Path(checkpoint).name, fc.config.variance or "none (quantile head)"
        cells = [cell for h in (1, 5) for cell in horizon_cells(s[f"model_h{h}"])]
        garch = garch or [cell for h in (1, 5) for cell in horizon_cells(s[f"garch_h{h}"])]
        rows.append((name, mode, cells))
        a = attention_figures(fc, data, held)
        attention_rows.append(
            f"| {name} | {mode} | {a['uniformity_h1']:.3f} | {a['uniformity']:.3f} | {a['shock_days']} | "
            f"{a['shock_median']:.2f} ({a['shock_p10']:.2f}..{a['shock_p90']:.2f}) | {a['shock_3x']:.0%} | "
            f"{a['shock_share']:.1%} |"
        )
        print(f"{name}: done", flush=True)
    print(
        f"\nHeld-out tickers, last {LAST_DAYS} days; interval score in % of the origin price (ratio to GARCH, pooled)\n"
    )
    print(
        "| checkpoint | weights | h1 80% | h1 90% | h1 coverage 80/90 | h1 MAE/naive | h5 80% | h5 90% | "
        "h5 coverage 80/90 | h5 MAE/naive |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    for name, mode, cells in [("GARCH(1,1)-t", "", garch), *rows]:
        print(f"| {name} | {mode} | " + " | ".join(cells) + " |")
    print(
        "\n| checkpoint | weights | uniformity h=1 | uniformity all steps | shock days (> 4 sd) | "
        "shock day's weight x L at h=1, median (10th..90th) | at >= 3x uniform | its share of the h=1 variance, "
        "median |\n|---|---|---|---|---|---|---|---|"
    )
    print("\n".join(attention_rows))


if __name__ == "__main__":
    main()
