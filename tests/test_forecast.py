"""Forecaster: network, data splits, training, backtest and the HTTP contract, on tiny
synthetic series (noisy sines and pure random walks)."""
from __future__ import annotations

import datetime
import math

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from models.forecast_net import ForecastNet, ForecastNetConfig, window_features
from models.forecaster import StockForecaster
from training.prices import load_prices, make_windows, return_scale, split_prices

from conftest import HORIZON, LOOKBACK, synthetic_csv, train_tiny_forecaster

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
    path.write_text("Date,Open,High,Low,Close,Adj Close,Volume\n"
                    "2020-01-02,1,1,1,10,9,5\n2020-01-03,null,null,null,null,null,null\n"
                    "2020-01-06,1,1,1,11,-1,5\n2020-01-07,1,1,1,12,11,5\n")
    with caplog.at_level("INFO"):
        series = load_prices(path)
    assert list(series) == ["ACME"] and list(series["ACME"].values) == [9.0, 11.0]
    assert "dropped 2 rows" in caplog.text


def test_trained_forecaster_beats_naive_on_a_sine(sine):
    from training.backtest import main as backtest

    data, out = sine
    summary = backtest(["--checkpoint", str(out), "--data", str(data), "--tickers", "T0,T1,T2",
                        "--last-days", "60", "--horizons", "1,5", "--csv", str(out.parent / "bt.csv")])
    assert summary["naive_h1"]["mae_ratio"] == 1.0
    assert summary["model_h5"]["mae_ratio"] < 1.0  # a sine is predictable; a random walk is not
    assert 0.0 < summary["model_h1"]["coverage"] <= 1.0


def test_naive_mae_ratio_is_exactly_one_on_a_random_walk(tmp_path, sine):
    from training.backtest import main as backtest

    _, out = sine
    walk = synthetic_csv(tmp_path / "walk.csv", "walk", tickers=2, seed=9)
    summary = backtest(["--checkpoint", str(out), "--data", str(walk), "--last-days", "50",
                        "--tickers", "T0", "T1", "--csv", str(tmp_path / "bt.csv")])
    assert summary["naive_h1"]["mae_ratio"] == 1.0 and summary["naive_h5"]["mae_ratio"] == 1.0
    assert 0.8 < summary["drift_h1"]["mae_ratio"] < 1.2


def test_checkpoint_round_trip(sine):
    _, out = sine
    a, b = StockForecaster.load(out), StockForecaster.load(out)
    prices = np.linspace(100, 120, 30)
    assert a.predict([prices], 3, 0.8)[0] == b.predict([prices], 3, 0.8)[0]


def prices(n: int = 40) -> list[float]:
    return [round(100 * math.exp(0.05 * math.sin(i / 5)), 4) for i in range(n)]


def test_forecast_contract(client):
    days = [str(datetime.date(2024, 1, 1) + datetime.timedelta(days=i)) for i in range(40)]
    body = client.post("/forecast", json={"prices": prices(), "horizon": 4, "interval": 0.9,
                                          "dates": days}).json()
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
    raw = "{\"prices\": [" + ", ".join(["100.0"] * 30 + [token]) + "]}"
    response = client.post("/forecast", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422 and "finite" in response.json()["message"]


@pytest.mark.parametrize("body", [{"series": []}, {"series": [{"prices": prices()}] * 257},
                                  {"series": [{"prices": prices()}, {"prices": prices(5)}]}])
def test_bad_batch_is_422(client, body):
    response = client.post("/forecast/batch", json=body)
    assert response.status_code == 422 and "series" in response.json()["message"]


def test_models_and_readiness_list_the_forecaster(client):
    assert client.get("/readyz").status_code == 200
    [info] = client.get("/models").json()
    assert info["task"] == "forecast" and info["cell"] == "gru" and info["attention"] == "bahdanau"
