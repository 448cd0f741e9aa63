"""A forecaster whose attention makes its interval's width (``models.forecasting.variance``): the
weights shown are the weights of the variance estimate, and the answer says which days carry it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import HORIZON, LOOKBACK
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from models.checkpoint import save_checkpoint
from models.forecasting.features import BAR_FEATURES, CLOSE_FEATURES
from models.forecasting.forecast_net import ForecastNet, ForecastNetConfig


def net(mode: str, features=CLOSE_FEATURES, horizon: int = 3) -> ForecastNet:
    torch.manual_seed(0)
    config = ForecastNetConfig(cell="gru", lookback=20, horizon=horizon, hidden_size=8, features=list(features))
    config.variance = mode
    return ForecastNet(config).eval()


def calm_with_a_shock(day: int, length: int = 20) -> torch.Tensor:
    """(1, L, 2) closes-only features: small returns, and a return of 8 scales on ``day``."""
    x = torch.zeros(1, length, 2)
    x[0, :, 0] = 0.5
    x[0, day, 0] = 8.0
    return x


def test_the_width_is_the_weighted_mean_of_the_days_variance():
    model = net("attention")
    x = calm_with_a_shock(5)
    with torch.no_grad():
        z, weights = model(x)
    head = model.variance
    p = head.day_variance(x)[0]  # closes only: the squared return
    assert torch.allclose(p, x[0, :, 0] ** 2)
    v = (weights[0] * p).sum(-1) + head.floor  # (H,)
    width = (v.cumsum(0) / torch.arange(1, 4)).sqrt()
    c = head.spread(3)
    median = z[0, :, 2]
    assert torch.allclose(z[0], median[:, None] + width[:, None] * c, atol=1e-5)
    assert (z.diff(dim=-1) > 0).all()  # quantiles never cross


def test_shares_say_how_much_of_the_variance_each_day_carries():
    model = net("uniform")  # weights 1/L: a day's share is its proxy's share
    x = calm_with_a_shock(5)
    _, _, (days, long_run) = model.explain(x)
    shares = days[0]  # (H, L)
    assert torch.equal(long_run, torch.zeros(1, 3))  # no long-run level: the days carry it all
    assert torch.allclose(shares.sum(-1), torch.ones(3))
    p = x[0, :, 0] ** 2
    assert torch.allclose(shares[0], p / p.sum(), atol=1e-6)
    assert shares[0].argmax() == 5 and shares[0, 5] > 0.8  # the shock day carries the width


def test_the_controls_replace_the_attention():
    x = calm_with_a_shock(5)
    _, uniform = net("uniform")(x)
    assert torch.allclose(uniform, torch.full_like(uniform, 1 / 20))
    _, decay = net("exponential")(x)
    assert torch.allclose(decay.sum(-1), torch.ones(1, 3))
    assert (decay[0, 0].diff() > 0).all()  # more weight on more recent days, the same at every step
    assert torch.allclose(decay[0, 0], decay[0, 2])


def test_a_long_run_level_takes_its_share_and_the_rest_is_the_days():
    torch.manual_seed(0)
    config = ForecastNetConfig(cell="gru", lookback=20, horizon=3, hidden_size=8, variance="attention", long_run=True)
    model = ForecastNet(config).eval()
    x = calm_with_a_shock(5)
    _, _, (days, long_run) = model.explain(x)
    assert torch.allclose(days.sum(-1) + long_run, torch.ones(1, 3), atol=1e-6)
    assert ((long_run > 0) & (long_run < 1)).all()
    head = model.variance
    with torch.no_grad():
        z, weights = model(x)
        _, queries, _, _ = model._decode(x, 3)
        g = torch.sigmoid(head.gate(queries)).squeeze(-1)[0]
        omega = torch.nn.functional.softplus(head.level)
        v = (1 - g) * (weights[0] * x[0, :, 0] ** 2).sum(-1) + g * omega + head.floor
    width = (v.cumsum(0) / torch.arange(1, 4)).sqrt()
    assert torch.allclose(z[0] - z[0, :, 2:3], width[:, None] * head.spread(3), atol=1e-5)


def test_a_larger_shock_on_a_weighted_day_widens_the_interval():
    model = net("attention", BAR_FEATURES)
    x = torch.zeros(1, 20, len(BAR_FEATURES))
    x[0, :, :5] = 0.5
    with torch.no_grad():
        z_calm, weights = model(x)
        day = int(weights[0, 0].argmax())
        x[0, day, :5] = 6.0
        z_shock, _ = model(x)
    spread = lambda z: z[0, 0, -1] - z[0, 0, 0]  # noqa: E731
    assert spread(z_shock) > 2 * spread(z_calm)


@pytest.fixture(scope="module")
def variance_client(tmp_path_factory):
    torch.manual_seed(0)
    config = ForecastNetConfig(cell="gru", lookback=LOOKBACK, horizon=HORIZON, hidden_size=8)
    config.variance = "attention"
    model = ForecastNet(config).eval()
    root = tmp_path_factory.mktemp("variance-forecaster")
    save_checkpoint(
        root / "fcv", model, {"task": "forecast", "id": "fcv", "architecture": config.to_dict()}, "# test\n"
    )
    with TestClient(create_app(Settings(checkpoint_dir=root, models=["fcv"]))) as client:
        yield client


def test_the_answer_names_the_days_that_carry_the_width(variance_client):
    prices = list(100 * np.exp(np.cumsum(np.full(LOOKBACK + 5, 0.001))))
    prices[-4] *= 1.15  # a shock, 3 days before the last price (and its reversal the next day)
    response = variance_client.post("/forecast", json={"prices": prices, "horizon": 2})
    assert response.status_code == 200, response.text
    width = response.json()["width"]
    assert [w["step"] for w in width] == [1, 2]
    for step in width:
        assert len(step["days"]) == 3 and all(-LOOKBACK < d["day"] <= 0 for d in step["days"])
        assert step["share"] == pytest.approx(sum(d["share"] for d in step["days"]), abs=1e-3)
        assert step["summary"].startswith("days ") and f"step-{step['step']} interval" in step["summary"]
        assert step["long_run_share"] == 0.0  # this model has no long-run level
    assert {d["day"] for d in width[0]["days"]} & {-3, -2}  # the shock's two returns carry the most
    assert variance_client.get("/models").json()[0]["attention"] == "bahdanau"


def test_a_model_whose_width_is_made_otherwise_answers_no_width(untrained_forecaster_dir):
    settings = Settings(checkpoint_dir=untrained_forecaster_dir, models=["fc"])
    with TestClient(create_app(settings)) as client:
        prices = list(np.linspace(100, 110, LOOKBACK + 5))
        assert client.post("/forecast", json={"prices": prices, "horizon": 2}).json()["width"] is None
