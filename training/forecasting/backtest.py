"""Walk-forward backtest of a forecaster checkpoint against naive, drift and GARCH(1,1)-t.

    python -m training.forecasting.backtest --checkpoint checkpoints/forecaster-sp500 \\
        --data ../shared/data/all_stocks_5yr.csv [--tickers A,B] [--last-days 250] [--horizons 1,5]

Each forecast is made from data up to its origin only (the model gets every column the file has
-- open, high, low, volume -- unless --closes-only). Default tickers: those the checkpoint held
out of training (config.json training.heldout_tickers); the table's first line says how many
tickers were scored and how many of them the checkpoint held out or trained on. Per horizon:
MAE, RMSE and their ratios to the naive forecast's, directional accuracy beside the base rate
(share of up moves), and per interval level (--intervals): coverage, mean width and mean
interval (Winkler) score, (u - l) + (2/a)(l - y)[y < l] + (2/a)(y - u)[y > u] with a = 1 - level,
both in % of the origin price, and the score's ratio to GARCH(1,1)-t's (per ticker then
averaged, and pooled over all origins). Baselines:
- naive: the last price (random walk);
- drift: last price x exp(h x mean daily log return of the history up to the origin);
- GARCH(1,1) with Student-t errors (``arch``), fitted once per ticker on the returns before the
  first origin, then rolled forward with those parameters over data up to each origin; its
  h-day interval uses the summed variance forecasts and the fitted t quantile (an approximation
  for h > 1). Its point forecast is the fitted constant mean, like drift.

Other forecasts are scored on exactly the same origins with --peers FILE [FILE ...]; each
method in them becomes a row of the table, and an origin a file lacks is an error naming it.
A forecast file (``training.forecasting.forecast_csv``; --write-forecasts writes the model's and GARCH's) is
a CSV with the header

    method,ticker,origin_date,h,point,lower80,upper80,lower90,upper90

one row per method, ticker, origin and horizon: ``origin_date`` is the ISO date of the last price
the forecast saw, ``h`` the trading days (rows of the ticker in the price file) ahead, ``point``
the forecast close, ``lowerNN``/``upperNN`` the central NN% interval (empty: none).
--write-origins lists the origins (ticker,origin_date) a peer script must forecast from.

Calendar check (``training.forecasting.calendar_check``): the header says how many origins have an h-th row
that is not the h-th session of --calendar (default XNYS) after the origin, per
``models.forecasting.calendar``, the calendar the API dates its forecasts with: 0 where the file holds
exactly the exchange's sessions, as all_stocks_5yr.csv does; otherwise how many rows fall on
closed days and how many sessions lack a row. The figures are in the summary ("calendar_check").

Prints the per-ticker CSV's path (--csv), then the markdown table, last.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.forecasting.calendar import DEFAULT_CALENDAR, get_calendar
from models.forecasting.forecaster import Bars, StockForecaster
from training.card import update_metrics
from training.cli import parser
from training.common import command_line
from training.forecasting.calendar_check import CalendarCheck
from training.forecasting.forecast_csv import (
    HorizonForecast,
    forecast_rows,
    peer_forecasts,
    read_forecasts,
    write_forecasts,
)
from training.forecasting.forecast_scores import score, table_lines
from training.forecasting.garch import garch_forecasts
from training.forecasting.prices import load_bars

METHODS = ("model", "naive", "drift", "garch")


@dataclass
class Backtest:
    """What scoring the tickers gathers: per-ticker rows, those rows by (method, h), the tickers
    scored, the origins, the model's and GARCH's forecasts (forecast-file rows) and the calendar
    check of the origins' rows."""

    methods: list[str]
    calendar: CalendarCheck
    rows: list[dict] = field(default_factory=list)
    pooled: dict[tuple[str, int], list[dict]] = field(default_factory=lambda: defaultdict(list))
    scored: list[str] = field(default_factory=list)
    origins: list[dict] = field(default_factory=list)
    forecast_rows: list[dict] = field(default_factory=list)


def model_forecasts(
    fc: StockForecaster, bars: Bars, origins: np.ndarray, horizons: list[int], levels: list[float]
) -> dict[int, HorizonForecast]:
    """The checkpoint's forecasts from each origin index (N,), seeing bars up to it only."""
    history = [bars.window(t + 1, fc.config.days_read) for t in origins]
    paths, *_ = fc.quantile_paths(history, max(horizons))  # (N, H, Q)
    median = fc.config.quantiles.index(0.5)
    pairs = {lv: fc.quantile_pair(lv) for lv in levels}
    return {
        h: HorizonForecast(
            paths[:, h - 1, median], {lv: (paths[:, h - 1, lo], paths[:, h - 1, hi]) for lv, (lo, hi) in pairs.items()}
        )
        for h in horizons
    }


def ticker_forecasts(
    fc: StockForecaster, bars: Bars, origins: np.ndarray, horizons: list[int], levels: list[float]
) -> dict[str, dict[int, HorizonForecast]]:
    """-> {method: {h: forecasts from each origin}} for the model and the three baselines."""
    prices = bars.close
    last = prices[origins]
    logp = np.log(prices)
    drift_mu = (logp[origins] - logp[0]) / origins
    return {
        "model": model_forecasts(fc, bars, origins, horizons, levels),
        "naive": {h: HorizonForecast(last) for h in horizons},
        "drift": {h: HorizonForecast(last * np.exp(drift_mu * h)) for h in horizons},
        "garch": garch_forecasts(prices, origins, horizons, levels),
    }


def parse_args(argv=None) -> argparse.Namespace:
    p = parser("training.forecasting.backtest", __doc__)
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
    p.add_argument("--intervals", default="0.8,0.9", help="nominal coverages of the scored intervals, comma-separated")
    p.add_argument(
        "--closes-only", action="store_true", help="give the model closes only, even where the data has more"
    )
    p.add_argument(
        "--calendar",
        default=DEFAULT_CALENDAR,
        help="exchange whose sessions the rows after each origin are checked against (the header's calendar check)",
    )
    p.add_argument("--peers", nargs="+", default=[], help="forecast files (format above) scored beside the model")
    p.add_argument(
        "--write-forecasts", default=None, help="write the model's and GARCH's forecasts here (format above)"
    )
    p.add_argument("--write-origins", default=None, help="write the scored origins here (CSV ticker,origin_date)")
    p.add_argument("--csv", default="work/backtest_per_ticker.csv", help="per-ticker rows go here")
    p.add_argument(
        "--write-metrics",
        action="store_true",
        help="store the table in the model card (with --closes-only: as a second table)",
    )
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


def origins_of(n_prices: int, lookback: int, last_days: int, horizon: int) -> np.ndarray:
    """Indices of the last price each forecast sees: the last ``last_days`` days that have an
    outcome ``horizon`` days later and at least ``lookback`` prices up to them."""
    return np.arange(max(lookback, n_prices - last_days - horizon), n_prices - horizon)


def add_peers(forecasts: dict, peers: dict, ticker: str, dates: list[str], horizons: list[int], missing: list) -> None:
    """Put each peer's forecasts at these origins into ``forecasts``; note what it lacks in ``missing``."""
    for method, rows in peers.items():
        forecasts[method] = {}
        for h in horizons:
            found, lacking = peer_forecasts(rows, method, ticker, dates, h)
            if lacking:
                missing.append(f"{method} {ticker} h={h}: {len(lacking)} origins ({', '.join(lacking[:3])}, ...)")
            else:
                forecasts[method][h] = found


def score_tickers(fc: StockForecaster, data: dict, tickers: list[str], args, peers: dict) -> Backtest:
    """Forecast and score every ticker at the same origins; peers must cover every one of them.

    Raises ``ValueError`` naming the origins a peer file lacks."""
    horizons, levels = args.horizons_list, args.levels
    bt = Backtest(methods=[*METHODS, *peers], calendar=CalendarCheck(args.trading_calendar, horizons))
    missing: list[str] = []
    for ticker in tickers:
        bars, dates = data[ticker]
        if args.closes_only:
            bars = Bars(bars.close)
        origins = origins_of(len(bars), fc.config.lookback, args.last_days, max(horizons))
        if len(origins) < args.last_days // 2:
            print(f"skip {ticker}: {len(bars)} prices, too short for the window", file=sys.stderr)
            continue
        bt.scored.append(ticker)
        origin_dates = [dates[t] for t in origins]
        bt.origins += [{"ticker": ticker, "origin_date": d} for d in origin_dates]
        bt.calendar.add(ticker, dates, origins)
        forecasts = ticker_forecasts(fc, bars, origins, horizons, levels)
        add_peers(forecasts, peers, ticker, origin_dates, horizons, missing)
        for method in ("model", "garch"):
            for h in horizons:
                bt.forecast_rows += forecast_rows(method, ticker, origin_dates, h, forecasts[method][h])
        for method, by_h in forecasts.items():
            for h, forecast in by_h.items():
                row = score(bars.close[origins + h], bars.close[origins], forecast)
                bt.rows.append({"ticker": ticker, "method": method, "horizon": h, **row})
                bt.pooled[(method, h)].append(row)
    if missing:
        raise ValueError(f"peer forecasts lack origins the backtest scores: {'; '.join(missing[:5])}")
    return bt


def write_csv(path: str | Path, rows: list[dict]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)


def model_reads(fc: StockForecaster, closes_only: bool) -> str:
    """What the model was given: ``model reads closes only`` or the extra columns it used."""
    if not fc.config.reads_bars or closes_only:
        return "model reads closes only" + (" (--closes-only)" if fc.config.reads_bars else "")
    return "model reads closes, open, high, low and volume where the data has them"


def run(args: argparse.Namespace, argv) -> dict:
    """Backtest, write the per-ticker CSV, print the table (last) -> the summary figures."""
    fc = StockForecaster.load(args.checkpoint)
    args.horizons_list = [int(h) for h in args.horizons.split(",")]
    args.levels = [float(lv) for lv in args.intervals.split(",")]
    for level in args.levels:
        fc.quantile_pair(level)  # raises for a level the model does not serve
    try:
        args.trading_calendar = get_calendar(args.calendar)
    except KeyError as error:
        raise ValueError(f"--calendar: {error.args[0]}") from None
    data = load_bars(args.data)
    training = fc.loaded.config.get("training", {})
    held = set(training.get("heldout_tickers") or [])
    peers = read_forecasts(args.peers)
    clash = sorted(set(peers) & set(METHODS))
    if clash:
        raise ValueError(f"peer method names clash with the backtest's own: {clash}")
    bt = score_tickers(fc, data, choose_tickers(args, data, held), args, peers)
    if not bt.scored:
        raise ValueError(f"no ticker has the {fc.config.lookback + args.last_days // 2} prices the window needs")
    write_csv(args.csv, bt.rows)
    if args.write_forecasts:
        write_forecasts(args.write_forecasts, bt.forecast_rows)
    if args.write_origins:
        write_csv(args.write_origins, bt.origins)
    body, summary = table_lines(bt.methods, bt.pooled, args.horizons_list, args.levels)
    summary["calendar_check"] = bt.calendar.summary()
    dates = sorted(o["origin_date"] for o in bt.origins)
    header = (
        f"Walk-forward over the last {args.last_days} days of {tickers_phrase(bt.scored, held, bool(args.tickers))}"
        f"{data_note(training.get('data'), args.data)}; origins {dates[0]} to {dates[-1]}; "
        f"{model_reads(fc, args.closes_only)}; {bt.calendar.phrase()}. "
        "X / naive: per ticker, then averaged. Coverage, width and interval (Winkler) score per level; width and "
        "score in % of the origin price; score / GARCH(1,1)-t: per ticker then averaged / pooled over all origins."
    )
    table = "\n".join([header, "", *body])
    print(f"per-ticker rows: {args.csv}\n")
    print(table)
    if args.write_metrics:
        command = command_line("training.forecasting.backtest", argv)
        key = "backtest_closes_only" if args.closes_only else "backtest"
        update_metrics(Path(args.checkpoint), {key: {"table": table, "command": command, "summary": summary}})
    return summary


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        return run(args, argv)
    except (ValueError, OSError) as error:
        raise SystemExit(f"training.forecasting.backtest: {error}") from None


if __name__ == "__main__":
    main()
