"""Scores of forecasts against outcomes: point errors, interval coverage, width and the
interval (Winkler) score, and their ratios to baselines (the backtest's table)."""

from __future__ import annotations

import numpy as np

from training.forecasting.forecast_csv import HorizonForecast


def tag(level: float) -> str:
    """0.8 -> "80": the suffix of a level's columns."""
    return f"{100 * level:g}"


def interval_score(lower: np.ndarray, upper: np.ndarray, actual: np.ndarray, level: float) -> np.ndarray:
    """Winkler (interval) score of each central interval at ``level``, (N,): its width plus 2 / a
    times the miss below or above it, a = 1 - level. Lower is better."""
    a = 1 - level
    return (upper - lower) + (2 / a) * np.maximum(lower - actual, 0) + (2 / a) * np.maximum(actual - upper, 0)


def score(actual: np.ndarray, last: np.ndarray, forecast: HorizonForecast) -> dict:
    """Point and interval figures of forecasts (N,) against outcomes ``actual`` (N,) from origin
    prices ``last`` (N,); widths and interval scores in % of the origin price."""
    err = forecast.point - actual
    up = actual > last
    row = {
        "n": len(actual),
        "mae": np.abs(err).mean(),
        "rmse": np.sqrt((err**2).mean()),
        "direction": np.mean((forecast.point > last) == up),
        "base_rate": up.mean(),
    }
    for level, (lower, upper) in sorted(forecast.intervals.items()):
        row[f"coverage_{tag(level)}"] = ((lower <= actual) & (actual <= upper)).mean()
        row[f"width_{tag(level)}"] = (100 * (upper - lower) / last).mean()
        row[f"score_{tag(level)}"] = (100 * interval_score(lower, upper, actual, level) / last).mean()
    return row


def ratio(rows: list[dict], base: list[dict], key: str) -> tuple[float, float]:
    """(per-ticker ratio of ``key`` to the baseline's, averaged; pooled ratio over all origins)."""
    per_ticker = float(np.mean([r[key] / b[key] for r, b in zip(rows, base)]))
    pooled = sum(r[key] * r["n"] for r in rows) / sum(b[key] * b["n"] for b in base)
    return per_ticker, float(pooled)


def summarize(rows: list[dict], naive: list[dict], garch: list[dict], levels: list[float]) -> dict:
    """One method's figures at one horizon, averaged over tickers (ratios: see ``ratio``)."""
    figures = {
        "mae_ratio": ratio(rows, naive, "mae")[0],
        "rmse_ratio": ratio(rows, naive, "rmse")[0],
        "direction": float(np.mean([r["direction"] for r in rows])),
        "base_rate": float(np.mean([r["base_rate"] for r in rows])),
    }
    for level in levels:
        t = tag(level)
        if f"score_{t}" not in rows[0]:
            continue
        figures[f"coverage_{t}"] = float(np.mean([r[f"coverage_{t}"] for r in rows]))
        figures[f"width_{t}"] = float(np.mean([r[f"width_{t}"] for r in rows]))
        figures[f"score_{t}"] = float(np.mean([r[f"score_{t}"] for r in rows]))
        figures[f"score_ratio_{t}"], figures[f"score_ratio_pooled_{t}"] = ratio(rows, garch, f"score_{t}")
    return {k: round(v, 4) for k, v in figures.items()}


def table_lines(
    methods: list[str], pooled: dict[tuple[str, int], list[dict]], horizons: list[int], levels: list[float]
) -> tuple[list[str], dict]:
    """Markdown header and rows, per horizon and method, and the summary figures, from the
    per-ticker rows of each (method, h) (naive's and garch's are the baselines)."""
    head = "| h | method | MAE / naive | RMSE / naive | direction | base rate |"
    for level in levels:
        t = tag(level)
        head += f" coverage {t}% | width {t}% | score {t}% | score {t}% / GARCH |"
    lines, summary = [head, "|---:|---|" + "---:|" * (head.count("|") - 3)], {}
    for h in horizons:
        naive, garch = pooled[("naive", h)], pooled[("garch", h)]
        for method in methods:
            fig = summary[f"{method}_h{h}"] = summarize(pooled[(method, h)], naive, garch, levels)
            direction = "—" if method == "naive" else f"{fig['direction']:.3f}"
            cells = [str(h), method, f"{fig['mae_ratio']:.4f}", f"{fig['rmse_ratio']:.4f}", direction]
            cells.append(f"{fig['base_rate']:.3f}")
            for level in levels:
                t = tag(level)
                if f"score_{t}" not in fig:
                    cells += ["—"] * 4
                    continue
                cells += [f"{fig[f'coverage_{t}']:.3f}", f"{fig[f'width_{t}']:.2f}", f"{fig[f'score_{t}']:.3f}"]
                cells.append(f"{fig[f'score_ratio_{t}']:.3f} / {fig[f'score_ratio_pooled_{t}']:.3f}")
            lines.append("| " + " | ".join(cells) + " |")
    return lines, summary
