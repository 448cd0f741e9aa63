"""The ticker's longer past (``history_days``): columns that serving computes from the prices it is
given and training from each ticker's whole series must agree, and with a long-run level the
level is a learned multiple of that history's variance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import HORIZON, LOOKBACK, TRAIN_THREADS, torch_threads
from fastapi.testclient import TestClient
from test_forecast_bars import range_signal, write_kaggle

from app.core.config import Settings
from app.main import create_app
from models.checkpoint import save_checkpoint
from models.forecasting.features import BAR_FEATURES, CLOSE_FEATURES, closes_only, history_names, window_features
from models.forecasting.forecast_net import ForecastNet, ForecastNetConfig
from models.forecasting.forecaster import StockForecaster
from training.forecasting.prices import BAR_COLUMNS, make_windows, with_history
from training.forecasting.train import tensors

DAYS = 50  # history days in these tests
FEATURES = [*BAR_FEATURES, *history_names(BAR_FEATURES)]


def frame_of(bars) -> pd.DataFrame:
    columns = {c: getattr(bars, c) for c in BAR_COLUMNS}
    return pd.DataFrame(columns, index=pd.bdate_range("2015-01-01", periods=len(bars)))


def test_training_windows_read_what_serving_computes_from_the_same_past():
    bars, _ = range_signal(120, np.random.default_rng(1))
    bars.open *= np.exp(np.random.default_rng(2).normal(0, 0.002, len(bars)))  # overnight gaps
    bars.high[30] = np.nan  # a day without its range: both sides fall back to |return|
    config = ForecastNetConfig(lookback=LOOKBACK, horizon=HORIZON, scale=0.01, features=FEATURES, history_days=DAYS)
    frame = with_history({"T": frame_of(bars)}, 0.01, DAYS, FEATURES)["T"]
    windows = make_windows({"T": frame.to_numpy()}, LOOKBACK, HORIZON)  # (N, L + 1 + H, 5 + K)
    x, _ = tensors(windows, config)
    served = config.days_read
    for i in (0, 10, DAYS - LOOKBACK, len(windows) - 1):  # histories shorter and longer than DAYS
        last = i + LOOKBACK  # the window's last input day
        given = bars.window(last + 1, served)
        expected = window_features(
            given.close[None], LOOKBACK, 0.01, FEATURES, {c: getattr(given, c)[None] for c in BAR_COLUMNS[1:]}, DAYS
        )
        assert np.allclose(x[i].numpy(), expected[0], rtol=1e-5, atol=1e-6), i
    history = x[:, 0, -4:].numpy()
    assert history.std(0).min() > 0  # the columns move with the past, not a constant


def test_the_history_of_closes_alone_is_what_closes_only_makes():
    bars, _ = range_signal(DAYS + 1, np.random.default_rng(2))
    given = {c: getattr(bars, c)[None] for c in BAR_COLUMNS[1:]}
    full = window_features(bars.close[None], LOOKBACK, 0.01, FEATURES, given, DAYS)
    alone = window_features(bars.close[None], LOOKBACK, 0.01, FEATURES, history_days=DAYS)
    assert not np.allclose(full[..., -4:], alone[..., -4:])
    assert np.allclose(closes_only(torch.from_numpy(full), FEATURES).numpy(), alone, atol=1e-6)


def test_history_columns_need_history_days_and_every_proxy():
    with pytest.raises(ValueError, match="history columns go with history_days > 0"):
        ForecastNetConfig(features=FEATURES)
    with pytest.raises(ValueError, match="history_return"):
        ForecastNetConfig(features=list(CLOSE_FEATURES), history_days=DAYS)
    assert ForecastNetConfig(lookback=20, features=FEATURES, history_days=DAYS).days_read == DAYS + 1
    assert ForecastNetConfig(lookback=60, features=FEATURES, history_days=DAYS).days_read == 61  # the window


def test_the_long_run_level_is_a_multiple_of_the_tickers_own_variance():
    torch.manual_seed(0)
    features = [*CLOSE_FEATURES, "history_return"]
    config = ForecastNetConfig(cell="gru", lookback=20, horizon=3, hidden_size=8, features=features, history_days=DAYS)
    config.variance, config.long_run = "attention", True
    model = ForecastNet(config).eval()
    x = torch.zeros(2, 20, 3)
    x[:, :, 0] = 0.5
    x[0, :, 2], x[1, :, 2] = 1.0, 4.0  # the same window; the second ticker's past four times as volatile
    head = model.variance
    omega = head.long_run_level(x)
    assert torch.allclose(omega[1], 4 * omega[0])
    with torch.no_grad():
        z, weights = model(x)
        _, queries, _, _ = model._decode(model.encoder_input(x), 3)
        g = torch.sigmoid(head.gate(queries)).squeeze(-1)  # (2, H)
        v = (1 - g) * (weights * x[..., 0:1].transpose(1, 2) ** 2).sum(-1) + g * omega[:, None] + head.floor
    width = (v.cumsum(1) / torch.arange(1, 4)).sqrt()  # (2, H)
    assert torch.allclose(z - z[..., 2:3], width[..., None] * head.spread(3), atol=1e-5)
    assert (width[1] > width[0]).all()


@pytest.fixture(scope="module")
def history_model(tmp_path_factory):
    """A tiny variance-attention forecaster with a long-run level read from 50 days of history."""
    from training.forecasting.train import main

    tmp = tmp_path_factory.mktemp("history")
    rng = np.random.default_rng(0)
    write_kaggle(tmp / "bars.csv", [range_signal(300, rng)[0] for _ in range(6)])
    out = tmp / "fch"
    with torch_threads(TRAIN_THREADS):
        main(
            ["--data", str(tmp / "bars.csv"), "--out", str(out), "--cell", "gru", "--lookback", str(LOOKBACK)]
            + ["--horizon", str(HORIZON), "--hidden-size", "8", "--attention-size", "4", "--epochs", "1"]
            + ["--variance", "attention", "--long-run", "--history-days", str(DAYS), "--no-progress"]
            + ["--batch-size", "64", "--logdir", str(tmp / "runs"), "--threads", str(TRAIN_THREADS)]
        )
    return out


@pytest.mark.tiny_model
def test_a_history_model_trains_and_the_service_reads_the_past_beyond_the_window(history_model):
    assert StockForecaster.load(history_model).config.features == FEATURES
    with TestClient(create_app(Settings(checkpoint_dir=history_model.parent, models=["fch"]))) as client:
        rng = np.random.default_rng(4)
        calm = 100 * np.exp(np.cumsum(rng.normal(0, 0.005, DAYS + 1)))
        wild = 100 * np.exp(np.cumsum(rng.normal(0, 0.05, DAYS + 1)))
        window = list(calm[-(LOOKBACK + 1) :])
        answers = {}
        for name, past in (("calm", calm), ("wild", wild)):
            prices = list(past[: DAYS - LOOKBACK] / past[DAYS - LOOKBACK - 1] * window[0]) + window
            response = client.post("/forecast", json={"prices": prices, "horizon": 2})
            assert response.status_code == 200, response.text
            answers[name] = response.json()
        spread = {k: a["upper"][1] - a["lower"][1] for k, a in answers.items()}
        assert spread["wild"] > spread["calm"]  # the same last window: the older past widens it
        assert answers["calm"]["width"][0]["long_run_share"] > 0
        csv = "date,close\n" + "".join(
            f"{d.date()},{p}\n" for d, p in zip(pd.bdate_range("2020-01-01", periods=len(prices)), prices)
        )
        upload = client.post("/forecast/csv?horizon=2", files={"file": ("p.csv", csv, "text/csv")})
        assert upload.status_code == 200, upload.text
        assert upload.json()["upper"] == pytest.approx(answers["wild"]["upper"])  # the file's whole past, too


def test_an_untrained_history_checkpoint_round_trips(tmp_path):
    torch.manual_seed(0)
    config = ForecastNetConfig(lookback=LOOKBACK, horizon=HORIZON, hidden_size=8, features=FEATURES, history_days=DAYS)
    config.variance, config.long_run = "attention", True
    net = ForecastNet(config).eval()
    save_checkpoint(
        tmp_path / "h",
        net,
        {"task": "forecast", "id": "h", "architecture": config.to_dict()},
        "# t\n",
        dtype=torch.float32,
    )
    loaded = StockForecaster.load(tmp_path / "h")
    bars, _ = range_signal(DAYS + 10, np.random.default_rng(5))
    a = loaded.predict([bars], HORIZON, 0.8)[0]
    b = StockForecaster(net).predict([bars], HORIZON, 0.8)[0]
    assert a.upper == pytest.approx(b.upper) and loaded.config.history_days == DAYS
