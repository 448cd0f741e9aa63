"""bench.peers.forecast_combine: our intervals averaged with GARCH's, the weight picked on other
origins than the ones it is applied to; generated forecast files and prices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.peers import forecast_combine as fc
from training.forecasting.forecast_csv import HorizonForecast, forecast_rows, read_forecasts, write_forecasts


def prices() -> dict[str, pd.Series]:
    days = pd.bdate_range("2016-01-04", periods=40)
    walk = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 40)))
    return {"A": pd.Series(walk, index=days)}


def forecast_file(path, series: pd.Series, ours_width: float, garch_width: float, shift: float = 0.0) -> None:
    """Intervals around the true outcome h = 1 ahead: ours ``ours_width`` wide and moved up by
    ``shift`` (misses it when the shift exceeds half the width), GARCH's ``garch_width`` wide, centred."""
    at = range(5, 30)
    dates = [str(series.index[t].date()) for t in at]
    actual = np.array([series.iloc[t + 1] for t in at])
    rows = []
    for method, width, up in (("model", ours_width, shift), ("garch", garch_width, 0.0)):
        bounds = {lv: (actual + up - width * lv, actual + up + width * lv) for lv in (0.8, 0.9)}
        rows += forecast_rows(method, "A", dates, 1, HorizonForecast(actual, bounds))
    write_forecasts(path, rows)


def test_the_weight_goes_where_the_choice_origins_say(tmp_path):
    series = prices()["A"]
    forecast_file(tmp_path / "narrow.csv", series, ours_width=0.5, garch_width=4.0)  # ours cover, narrower
    forecast_file(tmp_path / "off.csv", series, ours_width=0.5, garch_width=4.0, shift=3.0)  # ours miss
    narrow, off = fc.choose(tmp_path / "narrow.csv", prices()), fc.choose(tmp_path / "off.csv", prices())
    for level in (0.8, 0.9):
        w, best, equal = narrow[(1, level)]
        assert w == 1.0 and best < equal < 1.0  # ours alone is best, the mix in between
        assert off[(1, level)][0] < 1.0 and off[(1, level)][1] <= 1.0


def test_combined_bounds_are_the_weighted_mean_of_both(tmp_path):
    series = prices()["A"]
    forecast_file(tmp_path / "f.csv", series, ours_width=1.0, garch_width=3.0)
    weights = {(1, 0.8): 0.25, (1, 0.9): 0.5}
    write_forecasts(tmp_path / "c.csv", fc.combined(tmp_path / "f.csv", weights, "mix"))
    got, given = read_forecasts([tmp_path / "c.csv"])["mix"], read_forecasts([tmp_path / "f.csv"])
    for key, (_, intervals) in got.items():
        for level, w in ((0.8, 0.25), (0.9, 0.5)):
            ours, garch = given["model"][key][1][level], given["garch"][key][1][level]
            assert intervals[level] == pytest.approx(
                (w * ours[0] + (1 - w) * garch[0], w * ours[1] + (1 - w) * garch[1])
            )
    assert len(got) == len(given["model"])


def test_a_file_without_garch_or_outcomes_is_refused(tmp_path):
    series = prices()["A"]
    forecast_file(tmp_path / "f.csv", series, 1.0, 3.0)
    only = forecast_rows("model", "A", ["2016-01-05"], 1, HorizonForecast(np.ones(1), {}))
    write_forecasts(tmp_path / "model-only.csv", only)
    with pytest.raises(ValueError, match="needs methods model and garch"):
        fc.pair(tmp_path / "model-only.csv")
    short = {"A": series.iloc[:10]}
    with pytest.raises(ValueError, match="no outcome for A"):
        fc.choose(tmp_path / "f.csv", short)
