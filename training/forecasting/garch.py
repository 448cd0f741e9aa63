"""The GARCH(1,1)-t baseline of the backtest: fitted once per ticker on the returns before the
first origin, then rolled forward with those parameters over data up to each origin."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from training.forecasting.forecast_csv import HorizonForecast


def garch_forecasts(
    prices: np.ndarray, origins: np.ndarray, horizons: list[int], levels: list[float]
) -> dict[int, HorizonForecast]:
    """GARCH(1,1)-t forecasts from each origin index (N,) -> {h: point and intervals, each (N,)}."""
    from arch import arch_model

    returns = 100 * np.diff(np.log(prices))  # returns[i] is the move into day i + 1
    first = int(origins[0])  # an origin at day t has seen returns[: t]
    model = arch_model(returns, mean="Constant", vol="GARCH", p=1, q=1, dist="t")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(last_obs=first, disp="off")
        fc = fit.forecast(horizon=max(horizons), start=first - 1, reindex=False)
    variance = fc.variance.values[origins - first] / 1e4  # (N, H) daily variances
    mu, nu = fit.params["mu"] / 100, fit.params["nu"]
    cum_sd = np.sqrt(np.cumsum(variance, axis=1))
    last = prices[origins]
    out = {}
    for h in horizons:
        zq = {lv: stats.t.ppf(0.5 + lv / 2, nu) * np.sqrt((nu - 2) / nu) for lv in levels}
        out[h] = HorizonForecast(
            last * np.exp(mu * h),
            {
                lv: (last * np.exp(mu * h - z * cum_sd[:, h - 1]), last * np.exp(mu * h + z * cum_sd[:, h - 1]))
                for lv, z in zq.items()
            },
        )
    return out
