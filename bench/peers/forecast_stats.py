"""statsforecast's AutoETS / AutoARIMA on our backtest's origins, with 80% and 90% intervals.

    OMP_NUM_THREADS=1 work/peers/statsforecast-venv/bin/python -m bench.peers.forecast_stats \\
        [--models AutoETS,AutoARIMA] [--tickers AMZN,GOOG]

Needs ``bash bench/peers/setup_forecast_peers.sh statsforecast`` and
``.venv/bin/python -m bench.peers.forecast_data`` first. Per held-out ticker the backtest scores,
on log closes: the model is chosen and fitted (``fit``) on the closes up to and including the
first origin, as our backtest fits GARCH, then rolled forward over the origins without refitting:
``forward(y=closes up to the origin)`` keeps the fitted specification and parameters and
recomputes the states and the residual variance on that history. Forecasts and intervals are
exponentiated back to prices. Writes ``work/peers/statsforecast-<model>.csv`` and ``.json``.
"""

from __future__ import annotations

import os

import numpy as np

from bench.peers.forecast_data import HORIZON, LEVELS, PeerRun, load_split, origins
from training.cli import parser

THREADS = os.environ.get("OMP_NUM_THREADS")  # set it on the command line: numpy reads it at import


def describe(model) -> str:
    """The specification a fitted model chose: ``ETS(A,N,N)``, ``ARIMA(0,1,0)``."""
    fitted = model.model_
    if "components" in fitted:
        e, t, s, damped = fitted["components"][:4]
        return f"ETS({e},{t}{'d' if damped == 'D' else ''},{s})"
    p, q, _, _, _, d, _ = fitted["arma"]
    return f"ARIMA({p},{d},{q}){' with drift' if 'drift' in fitted['coef'] else ''}"


def paths(forecast: dict) -> dict[str, np.ndarray]:
    """statsforecast's ``mean``/``lo-80``/... -> our point/lower80/... (log prices, (HORIZON,))."""
    out = {"point": forecast["mean"]}
    for level in LEVELS:
        out[f"lower{level}"], out[f"upper{level}"] = forecast[f"lo-{level}"], forecast[f"hi-{level}"]
    return out


def run_model(name: str, tickers: list[str] | None) -> PeerRun:
    from statsforecast import models  # type: ignore[import-not-found]  # the peer's venv only

    split = load_split()
    run = PeerRun(f"statsforecast-{name.lower()}", {"library": "statsforecast", "model": name, "threads": THREADS})
    chosen: dict[str, str] = {}
    for ticker in tickers or split.scored():
        series = split.series[ticker]
        logp = np.log(series.values.astype(np.float64))
        at = origins(len(logp))
        with run.timing("fit"):
            model = getattr(models, name)(season_length=1).fit(logp[: at[0] + 1])
        chosen[ticker] = describe(model)
        with run.timing("predict"):
            forecasts = [model.forward(y=logp[: t + 1], h=HORIZON, level=list(LEVELS)) for t in at]
        for t, forecast in zip(at, forecasts):
            run.add(ticker, series.index, int(t), paths(forecast))
        print(f"{ticker}: {chosen[ticker]}, {len(at)} origins", flush=True)
    run.settings["fitted"] = chosen
    run.settings["refit"] = "once per ticker on the closes up to the first origin; forward() at each origin"
    return run


def main(argv=None) -> list[PeerRun]:
    p = parser("bench.peers.forecast_stats", __doc__)
    p.add_argument("--models", default="AutoETS,AutoARIMA", help="statsforecast model classes, comma-separated")
    p.add_argument("--tickers", default=None, help="a few of the scored tickers, comma-separated (a smoke run)")
    args = p.parse_args(argv)
    runs = []
    try:
        for name in args.models.split(","):
            run = run_model(name, args.tickers.split(",") if args.tickers else None)
            path = run.write()
            print(
                f"{run.method}: {run.forecasts} forecasts, fit {run.fit_seconds:.1f} s, "
                f"{run.forecasts / run.predict_seconds:.1f} forecasts/s -> {path}",
                flush=True,
            )
            runs.append(run)
    except (ValueError, OSError) as error:
        raise SystemExit(f"bench.peers.forecast_stats: {error}") from None
    return runs


if __name__ == "__main__":
    main()
