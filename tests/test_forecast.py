"""Forecaster: network, data splits, training, backtest and the HTTP contract, on tiny
synthetic series (noisy sines and pure random walks)."""

from __future__ import annotations

import csv
import datetime
import math

import numpy as np
import pytest
import torch
from conftest import HORIZON, LOOKBACK, synthetic_csv, train_tiny_forecaster
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from models.checkpoint import save_checkpoint
from models.forecasting.features import window_features
from models.forecasting.forecast_net import ForecastNet, ForecastNetConfig
from models.forecasting.forecaster import StockForecaster
from training.forecasting.prices import load_prices, make_windows, return_scale, split_prices
from training.losses import pinball_loss


@pytest.fixture(scope="module")
def sine(tmp_path_factory):
    return train_tiny_forecaster(tmp_path_factory.mktemp("sine"), "sine")


@pytest.fixture(scope="module")
def client(sine):
    _, out = sine
    with TestClient(create_app(Settings(checkpoint_dir=out.parent, models=[out.name]))) as c:
        yield c


def test_network_shapes_rows_and_ordered_quantiles():
    cfg = ForecastNetConfig(cell="lstm", lookback=LOOKBACK, horizon=HORIZON, hidden_size=8, attention_size=4)
    model = ForecastNet(cfg).eval()
    prices = np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, (3, LOOKBACK + 1)), axis=1))
    z, attention = model(torch.from_numpy(window_features(prices, LOOKBACK, cfg.scale)), 4)
    assert z.shape == (3, 4, len(cfg.quantiles)) and attention.shape == (3, 4, LOOKBACK)
    assert torch.allclose(attention.sum(-1), torch.ones(3, 4), atol=1e-5)
    assert (z.diff(dim=-1) > 0).all()
    assert cfg.intervals == [0.8, 0.9]


def test_splits_by_time_and_ticker_and_scaler_on_training_rows(tmp_path):
    series = load_prices(synthetic_csv(tmp_path / "rw.csv", "walk", tickers=10))
    splits = split_prices(series, heldout_frac=0.2, seed=3)
    assert len(splits.heldout) == 2 and not set(splits.heldout) & set(splits.train)
    for name, train in splits.train.items():
        s = series[name]
        assert (s[s.index < splits.val_start].values == train).all()
        assert len(train) + len(splits.val[name]) + len(splits.test[name]) == len(s)
    # the scaler changes when training rows change, and not when test rows change
    base = return_scale(splits.train)
    shocked = {k: v.copy() for k, v in splits.test.items()}
    for v in shocked.values():
        v[-1] *= 10
    assert return_scale(splits.train) == base
    assert not math.isclose(return_scale({k: v[::2] for k, v in splits.train.items()}), base)


def test_a_window_never_crosses_a_split(tmp_path):
    series = load_prices(synthetic_csv(tmp_path / "rw.csv", "walk", tickers=3, days=300))
    splits = split_prices(series)
    size = LOOKBACK + 1 + HORIZON
    windows = make_windows(splits.train, LOOKBACK, HORIZON)
    assert windows.shape[1] == size
    expected = sum(max(0, len(p) - size + 1) for p in splits.train.values())
    assert len(windows) == expected
    train_values = {float(x) for p in splits.train.values() for x in p}
    later = {float(x) for p in (*splits.val.values(), *splits.test.values()) for x in p}
    assert not {float(x) for x in windows.ravel()} & (later - train_values)


def test_loader_reads_yahoo_format_and_drops_bad_rows(tmp_path, caplog):
    path = tmp_path / "ACME.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2020-01-02,1,1,1,10,9,5\n2020-01-03,null,null,null,null,null,null\n"
        "2020-01-06,1,1,1,11,-1,5\n2020-01-07,1,1,1,12,11,5\n"
    )
    with caplog.at_level("INFO"):
        series = load_prices(path)
    assert list(series) == ["ACME"] and list(series["ACME"].values) == [9.0, 11.0]
    assert "dropped 2 rows" in caplog.text


@pytest.mark.tiny_model
def test_trained_forecaster_beats_naive_on_a_sine_with_calibrated_intervals(sine):
    from training.forecasting.backtest import main as backtest

    data, out = sine
    summary = backtest(
        [
            "--checkpoint",
            str(out),
            "--data",
            str(data),
            "--tickers",
            "T0,T1,T2",
            "--last-days",
            "60",
            "--horizons",
            "1,5",
            "--csv",
            str(out.parent / "bt.csv"),
        ]
    )
    for h in (1, 5):  # a sine is predictable; a random walk is not
        assert summary[f"model_h{h}"]["mae_ratio"] < 0.7
        # 180 forecasts of a model calibrated on 105 validation windows: near the promised levels
        assert abs(summary[f"model_h{h}"]["coverage_80"] - 0.8) < 0.15, summary[f"model_h{h}"]
        assert abs(summary[f"model_h{h}"]["coverage_90"] - 0.9) < 0.15, summary[f"model_h{h}"]


def test_backtest_naive_error_is_the_mean_move_over_the_last_days(tmp_path, sine):
    from training.forecasting.backtest import main as backtest

    _, out = sine
    walk = synthetic_csv(tmp_path / "walk.csv", "walk", tickers=2, seed=9)
    table = tmp_path / "bt.csv"
    summary = backtest(
        [
            "--checkpoint",
            str(out),
            "--data",
            str(walk),
            "--last-days",
            "50",
            "--tickers",
            "T0",
            "T1",
            "--horizons",
            "1,5",
            "--csv",
            str(table),
        ]
    )
    with open(table, newline="") as handle:
        rows = {(r["ticker"], r["method"], int(r["horizon"])): r for r in csv.DictReader(handle)}
    for ticker, prices_ in load_prices(walk).items():
        p = prices_.values
        origins = np.arange(len(p) - 5 - 50, len(p) - 5)  # the last 50 days with 5 days after them
        for h in (1, 5):
            row = rows[(ticker, "naive", h)]
            assert int(row["n"]) == 50
            assert math.isclose(float(row["mae"]), np.abs(p[origins + h] - p[origins]).mean(), rel_tol=1e-9)
    assert 0.8 < summary["drift_h1"]["mae_ratio"] < 1.2


def random_walks(n: int, length: int, sigma: float, seed: int) -> np.ndarray:
    """(n, length) prices whose daily log returns are iid N(0, sigma^2)."""
    return 100 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, sigma, (n, length)), axis=1))


def tiny_net(**overrides) -> ForecastNet:
    torch.manual_seed(0)
    cfg = ForecastNetConfig(
        cell="gru", lookback=LOOKBACK, horizon=HORIZON, hidden_size=8, attention_size=4, dropout=0.0, **overrides
    )
    return ForecastNet(cfg).eval()


def test_saved_forecaster_loads_from_its_folder_and_forecasts_the_same(tmp_path):
    net = tiny_net(calibration=[[1.3, 1.1, 1.0, 1.2, 1.4]] * HORIZON, median_shrink=[0.5] * HORIZON)
    config = {"task": "forecast", "id": "fc-test", "architecture": net.config.to_dict()}
    save_checkpoint(tmp_path / "fc-test", net, config, "# test card\n", dtype=torch.float32)
    loaded = StockForecaster.load(tmp_path / "fc-test")
    assert loaded.checkpoint.id == "fc-test" and loaded.config == net.config
    series = list(random_walks(3, LOOKBACK + 10, 0.01, seed=4))
    for interval in (0.8, 0.9):
        assert loaded.predict(series, HORIZON, interval) == StockForecaster(net).predict(series, HORIZON, interval)


def test_a_forecast_needs_the_window_of_prices_and_no_more():
    forecaster = StockForecaster(tiny_net())
    prices_ = random_walks(1, 3 * LOOKBACK, 0.01, seed=3)[0]
    [exact] = forecaster.predict([prices_[-LOOKBACK:]], HORIZON, 0.8)
    assert len(exact.forecast) == HORIZON and [len(row) for row in exact.attention] == [LOOKBACK] * HORIZON
    assert all(lo <= f <= hi for lo, f, hi in zip(exact.lower, exact.forecast, exact.upper))
    # only the last L + 1 prices count (L closes and the one before, for the first return)
    assert forecaster.predict([prices_], 3, 0.8) == forecaster.predict([prices_[-LOOKBACK - 1 :]], 3, 0.8)
    with pytest.raises(ValueError, match=f"series 0: needs at least {LOOKBACK} prices"):
        forecaster.predict([prices_[-(LOOKBACK - 1) :]], HORIZON, 0.8)


def test_pinball_loss_is_smallest_at_the_true_quantile():
    """Constant predictions over a grid, against exponential(1) samples: the q-quantile is -log(1 - q)."""
    samples = torch.from_numpy(np.random.default_rng(0).exponential(1.0, 20_000)).float().view(-1, 1)
    grid = torch.linspace(0, 4, 401)
    for q in (0.1, 0.5, 0.9):
        losses = torch.stack([pinball_loss(torch.full((len(samples), 1, 1), float(c)), samples, [q]) for c in grid])
        assert abs(float(grid[losses.argmin()]) + math.log(1 - q)) < 0.06, q


def test_calibration_brings_interval_coverage_to_the_promised_level():
    """Gaussian random-walk returns with known sd: the h-day log return is N(0, h sigma^2), so
    in the network's units the target is N(0, 1). An untrained network's raw intervals miss;
    after calibrating on 4000 walks, its 80% and 90% intervals cover 4000 fresh walks as promised."""
    from training.forecasting.train import calibrate, tensors

    sigma, size = 0.01, LOOKBACK + 1 + HORIZON
    net = tiny_net(scale=sigma)
    x, y = tensors(random_walks(4000, size, sigma, seed=1), net.config)
    fresh = random_walks(4000, size, sigma, seed=2)
    history, future = list(fresh[:, : LOOKBACK + 1]), fresh[:, LOOKBACK + 1 :]

    def coverage(interval: float) -> np.ndarray:
        """-> (H,) share of the fresh walks' prices inside the served interval, per horizon."""
        results = StockForecaster(net).predict(history, HORIZON, interval)
        lower, upper = np.array([r.lower for r in results]), np.array([r.upper for r in results])
        return ((lower <= future) & (future <= upper)).mean(axis=0)

    raw = coverage(0.8)
    net.config.median_shrink, net.config.calibration = calibrate(net, x, y, "cpu")
    assert np.abs(raw - 0.8).max() > 0.1, raw  # the untrained intervals were off
    for interval in (0.8, 0.9):
        assert np.abs(coverage(interval) - interval).max() < 0.04, (interval, coverage(interval))


def prices(n: int = 40) -> list[float]:
    return [round(100 * math.exp(0.05 * math.sin(i / 5)), 4) for i in range(n)]


def test_forecast_contract(client):
    days = [str(datetime.date(2024, 1, 1) + datetime.timedelta(days=i)) for i in range(40)]
    body = client.post("/forecast", json={"prices": prices(), "horizon": 4, "interval": 0.9, "dates": days}).json()
    assert len(body["forecast"]) == len(body["lower"]) == len(body["upper"]) == 4
    assert all(lo <= f <= hi for lo, f, hi in zip(body["lower"], body["forecast"], body["upper"]))
    assert body["window"] == LOOKBACK and len(body["attention"]) == 4
    assert all(len(row) == LOOKBACK and abs(sum(row) - 1) < 1e-4 for row in body["attention"])
    assert body["baseline"]["naive"] == [prices()[-1]] * 4
    assert body["dates"] == ["2024-02-12", "2024-02-13", "2024-02-14", "2024-02-15"]
    assert body["interval"] == 0.9


def test_batch_matches_single_in_order(client):
    series = [{"prices": prices(40 + i), "horizon": 1 + i % 3} for i in range(5)]
    results = client.post("/forecast/batch", json={"series": series}).json()["results"]
    assert len(results) == 5
    for item, result in zip(series, results):
        single = client.post("/forecast", json=item).json()
        assert np.allclose(single["forecast"], result["forecast"])


BAD = [
    ({"prices": prices(10)}, "prices", "at least 20"),
    ({"prices": prices(), "horizon": 0}, "horizon", ""),
    ({"prices": prices(), "horizon": 6}, "horizon", "at most 5"),
    ({"prices": prices(), "interval": 0.7}, "interval", "0.8"),
    ({"prices": prices(), "dates": ["2024-01-01"] * 3}, "dates", "same length"),
    ({"prices": prices(), "dates": ["not a date"] * 40}, "dates", ""),
    ({"prices": prices(), "dates": [20240101] * 40}, "dates", ""),
    ({"prices": prices()[:-1] + [0]}, "prices", "greater than 0"),
    ({"prices": prices()[:-1] + [-5.0]}, "prices", "greater than 0"),
    ({"prices": prices()[:-1] + ["1.0"]}, "prices", ""),
    ({"prices": prices()[:-1] + [None]}, "prices", ""),
    ({"prices": []}, "prices", ""),
    ({"prices": [1.0] * 10_001}, "prices", "10000"),
    ({"prices": prices()[:-1] + [1e300]}, "prices", "less than or equal"),
    ({"prices": prices(), "extra": 1}, "extra", ""),
]


@pytest.mark.parametrize("body,field,words", BAD)
def test_bad_forecast_input_is_422(client, body, field, words):
    response = client.post("/forecast", json=body)
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    assert field in message and words in message


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_422(client, token):
    raw = '{"prices": [' + ", ".join(["100.0"] * 30 + [token]) + "]}"
    response = client.post("/forecast", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422 and "finite" in response.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"series": []},
        {"series": [{"prices": prices()}] * 257},
        {"series": [{"prices": prices()}, {"prices": prices(5)}]},
    ],
)
def test_bad_batch_is_422(client, body):
    response = client.post("/forecast/batch", json=body)
    assert response.status_code == 422 and "series" in response.json()["message"]


def test_models_and_readiness_list_the_forecaster(client):
    assert client.get("/readyz").status_code == 200
    [info] = client.get("/models").json()
    assert info["task"] == "forecast" and info["cell"] == "gru" and info["attention"] == "bahdanau"
