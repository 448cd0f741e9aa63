"""Forecaster inputs beyond closes: open/high/low/volume features, closes-only serving of a bar
model, old closes-only checkpoints, and loading bars from both CSV formats."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import HORIZON, LOOKBACK, TRAIN_THREADS, torch_threads

from models.checkpoint import save_checkpoint
from models.forecasting.features import BAR_FEATURES, closes_only, window_features
from models.forecasting.forecast_net import ForecastNet, ForecastNetConfig
from models.forecasting.forecaster import Bars, StockForecaster
from training.forecasting.prices import load_bars

LOW, HIGH = 0.003, 0.03  # the two daily volatilities of the range-signal series


def range_signal(days: int, rng: np.random.Generator) -> tuple[Bars, np.ndarray]:
    """Bars whose day-t high-low range announces the volatility of the next day's return, while
    the closes up to day t say nothing of it -> (bars, sigma (days,): the next day's volatility)."""
    sigma = rng.choice([LOW, HIGH], days)
    returns = np.concatenate([[0.0], rng.normal(0, sigma[:-1])])  # the move into day t has sd sigma[t-1]
    close = 100 * np.exp(np.cumsum(returns))
    high, low = close * np.exp(sigma), close * np.exp(-sigma)
    opens = np.concatenate([[close[0]], close[:-1]])
    return Bars(close, opens, np.maximum(high, opens), np.minimum(low, opens), np.full(days, 1e6)), sigma


def write_kaggle(path, series: list[Bars]) -> None:
    dates = pd.bdate_range("2015-01-01", periods=len(series[0]))
    frames = [
        pd.DataFrame(
            {"date": dates.date, "open": b.open, "high": b.high, "low": b.low, "close": b.close}
            | {"volume": b.volume, "Name": f"T{k}"}
        )
        for k, b in enumerate(series)
    ]
    pd.concat(frames).to_csv(path, index=False)


@pytest.fixture(scope="module")
def range_model(tmp_path_factory):
    """A tiny bar model trained on range-signal series (30% of its windows shown as closes alone)."""
    from training.forecasting.train import main

    tmp = tmp_path_factory.mktemp("bars")
    rng = np.random.default_rng(0)
    write_kaggle(tmp / "bars.csv", [range_signal(400, rng)[0] for _ in range(8)])
    out = tmp / "forecaster-bars"
    with torch_threads(TRAIN_THREADS):  # the same floats whatever thread count earlier tests left
        main(
            ["--data", str(tmp / "bars.csv"), "--out", str(out), "--cell", "gru", "--lookback", str(LOOKBACK)]
            + ["--horizon", str(HORIZON), "--hidden-size", "16", "--attention-size", "8", "--epochs", "8"]
            + ["--batch-size", "64", "--lr", "0.01", "--stride", "1", "--no-progress", "--logdir", str(tmp / "runs")]
            + ["--threads", str(TRAIN_THREADS)]
        )
    return StockForecaster.load(out)


@pytest.mark.tiny_model
def test_bar_model_interval_widths_follow_the_range_and_closes_alone_still_serve(range_model):
    assert range_model.config.features == list(BAR_FEATURES)
    bars, sigma = range_signal(3000, np.random.default_rng(7))
    origins = np.arange(LOOKBACK + 1, len(bars) - 1)
    windows = [bars.window(t + 1, LOOKBACK + 1) for t in origins]
    actual, calm = bars.close[origins + 1], sigma[origins] == LOW
    for given, spread in ((windows, 3.0), ([Bars(w.close) for w in windows], None)):
        paths, *_ = range_model.quantile_paths(given, 1)  # (N, 1, Q)
        lower, upper = paths[:, 0, 1], paths[:, 0, -2]  # quantiles 0.1 and 0.9: the 80% interval
        width = (upper - lower) / bars.close[origins]
        ratio = width[~calm].mean() / width[calm].mean()
        coverage = ((lower <= actual) & (actual <= upper)).mean()
        if spread:  # the range says which days are wild: ten times the volatility, far wider intervals
            assert ratio > spread, ratio
        else:  # closes alone cannot tell: about as wide either way, still covering about 80% overall
            assert 0.7 < ratio < 1.4, ratio
        assert abs(coverage - 0.8) < 0.1, (spread, coverage)


def test_features_of_closes_alone_equal_the_bar_features_with_bars_hidden():
    bars, _ = range_signal(LOOKBACK + 1, np.random.default_rng(3))
    full = window_features(
        bars.close[None], LOOKBACK, 0.01, BAR_FEATURES, {k: getattr(bars, k)[None] for k in ("open", "high", "low")}
    )
    alone = window_features(bars.close[None], LOOKBACK, 0.01, BAR_FEATURES)
    assert not np.allclose(full, alone)
    assert np.allclose(closes_only(torch.from_numpy(full), BAR_FEATURES).numpy(), alone)
    flags = [BAR_FEATURES.index(f) for f in ("bars_flag", "volume_flag")]
    assert (full[0, :, flags[0]] == 1).all() and (full[0, :, flags[1]] == 0).all()  # no volume was given


def test_an_old_closes_only_checkpoint_loads_and_ignores_bars(tmp_path):
    torch.manual_seed(0)
    net = ForecastNet(ForecastNetConfig(cell="gru", lookback=LOOKBACK, horizon=HORIZON, hidden_size=8)).eval()
    new_keys = ("features", "calibration_closes", "median_shrink_closes")
    arch = {k: v for k, v in net.config.to_dict().items() if k not in new_keys}  # as config.json was written
    weights = dict(net.named_parameters())  # the first models had no buffers
    save_checkpoint(tmp_path / "old", weights, {"task": "forecast", "id": "old", "architecture": arch}, "#\n")
    assert "features" not in json.loads((tmp_path / "old" / "config.json").read_text())["architecture"]
    old = StockForecaster.load(tmp_path / "old")
    assert old.config.features == ["return", "shape"] and not old.config.reads_bars
    bars, _ = range_signal(LOOKBACK + 5, np.random.default_rng(1))
    assert old.predict([bars], 3, 0.9) == old.predict([bars.close], 3, 0.9)


def test_load_bars_reads_ohlcv_from_both_formats(tmp_path):
    yahoo = tmp_path / "ACME.csv"
    yahoo.write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,10,12,9,11,5.5,100\n2020-01-03,11,11,10,10,5,null\n"
    )
    [(bars, dates)] = load_bars(yahoo).values()
    assert dates == ["2020-01-02", "2020-01-03"] and list(bars.close) == [5.5, 5.0]
    assert list(bars.open) == [5.0, 5.5] and list(bars.high) == [6.0, 5.5] and list(bars.low) == [4.5, 5.0]
    assert bars.volume[0] == 100 and np.isnan(bars.volume[1])
    kaggle = tmp_path / "k.csv"
    kaggle.write_text("date,open,high,low,close,Name\n2020-01-02,1,2,0.5,1.5,A\n2020-01-03,,2,1,1.8,A\n")
    bars = load_bars(kaggle)["A"][0]
    assert bars.volume is None and np.isnan(bars.open[1]) and list(bars.high) == [2.0, 2.0]


def test_a_normalizing_network_scales_its_quantiles_with_the_window_volatility():
    """With the log-volatility input switched off, prices with every log move doubled (p -> p^2)
    give exactly doubled log-return quantiles: the output is the window's volatility times a
    function of the volatility-free window."""
    torch.manual_seed(0)
    cfg = ForecastNetConfig(lookback=LOOKBACK, horizon=HORIZON, hidden_size=8, features=list(BAR_FEATURES))
    net = ForecastNet(ForecastNetConfig(**{**cfg.to_dict(), "normalize": True})).eval()
    with torch.no_grad():
        net.input.weight[:, -1] = 0  # the log-volatility column
    bars, _ = range_signal(LOOKBACK + 1, np.random.default_rng(5))
    rel = {k: getattr(bars, k)[None] / 100 for k in ("close", "open", "high", "low")}
    quantiles = []
    for power in (1, 2):
        given = {k: v**power for k, v in rel.items()}
        x = torch.from_numpy(window_features(given.pop("close"), LOOKBACK, cfg.scale, cfg.features, given))
        quantiles.append(net.log_return_quantiles(net(x)[0]))
    assert torch.allclose(quantiles[1], 2 * quantiles[0], rtol=1e-4, atol=1e-7)
    assert not torch.allclose(quantiles[1], quantiles[0])


def test_a_day_without_a_figure_loses_it_alone():
    """NaN open on day j and NaN volume on day k: day j gets the closes-only range, gap and flag,
    day k volume flag 0, every other day's range features exactly those of the full bars."""
    bars, _ = range_signal(LOOKBACK + 1, np.random.default_rng(4))
    volume = np.random.default_rng(5).uniform(1e5, 1e6, LOOKBACK + 1)
    j, k = 5, 14
    opens, volumes = bars.open.copy(), volume.copy()
    opens[j + 1], volumes[k + 1] = np.nan, np.nan  # window day j is bar j + 1 (the first bar gives the first return)

    def features(open_: np.ndarray, vol: np.ndarray) -> np.ndarray:
        given = {"open": open_[None], "high": bars.high[None], "low": bars.low[None], "volume": vol[None]}
        return window_features(bars.close[None], LOOKBACK, 0.01, BAR_FEATURES, given)[0]  # (L, F)

    full, gappy = features(bars.open, volume), features(opens, volumes)
    alone = closes_only(torch.from_numpy(full[None]), BAR_FEATURES).numpy()[0]
    assert np.isfinite(gappy).all()
    ranged = [BAR_FEATURES.index(f) for f in ("parkinson", "garman_klass", "gap", "bars_flag")]
    others = np.arange(LOOKBACK) != j
    assert np.array_equal(gappy[j, ranged], alone[j, ranged]) and not np.array_equal(full[j, ranged], alone[j, ranged])
    assert np.array_equal(gappy[others][:, ranged], full[others][:, ranged])
    flags = gappy[:, BAR_FEATURES.index("volume_flag")]
    assert flags.tolist() == [float(i != k) for i in range(LOOKBACK)]


def test_nan_on_every_day_is_the_field_not_given_and_a_gap_stays_finite():
    torch.manual_seed(0)
    cfg = ForecastNetConfig(cell="gru", lookback=LOOKBACK, horizon=HORIZON, hidden_size=8, features=list(BAR_FEATURES))
    model = StockForecaster(ForecastNet(cfg))
    bars, _ = range_signal(LOOKBACK + 1, np.random.default_rng(6))
    none = Bars(bars.close, None, bars.high, bars.low, bars.volume)
    all_nan = Bars(bars.close, np.full(len(bars), np.nan), bars.high, bars.low, bars.volume)
    assert np.array_equal(model.quantile_paths([none], 3)[0], model.quantile_paths([all_nan], 3)[0])
    one_day = Bars(bars.close, bars.open.copy(), bars.high, bars.low, bars.volume)
    one_day.open[LOOKBACK // 2] = np.nan
    paths = [model.quantile_paths([b], 3)[0] for b in (bars, one_day, none)]
    assert np.isfinite(paths[1]).all()
    assert not np.array_equal(paths[1], paths[0]) and not np.array_equal(paths[1], paths[2])
