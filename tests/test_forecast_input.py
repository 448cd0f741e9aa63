"""What /forecast and /forecast/batch refuse as surely mistaken (dates out of order or repeated,
bars that cannot be a day's trading) and what they pass on, on an untrained tiny forecaster."""

from __future__ import annotations

import datetime

import numpy as np
import pytest
from conftest import LOOKBACK
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from models.forecasting.calendar import get_calendar

N = LOOKBACK + 5
PRICES = [round(100 * float(np.exp(0.02 * np.sin(i / 3))), 3) for i in range(N)]
DATES = [str(d) for d in get_calendar("XNYS").sessions("2024-01-02", "2024-03-29")[:N]]


@pytest.fixture(scope="module")
def client(untrained_forecaster_dir):
    with TestClient(create_app(Settings(checkpoint_dir=untrained_forecaster_dir, models=["fc"]))) as c:
        yield c


def refused(client, body: dict, path: str = "/forecast") -> str:
    response = client.post(path, json=body)
    assert response.status_code == 422, response.text[:300]
    return response.json()["message"]


def test_dates_oldest_first_are_accepted(client):
    response = client.post("/forecast", json={"prices": PRICES, "dates": DATES, "horizon": 2})
    assert response.status_code == 200, response.text[:300]
    assert response.json()["dates"][0] > DATES[-1]


def test_newest_first_dates_are_422_naming_the_first_index_out_of_order(client):
    message = refused(client, {"prices": PRICES[::-1], "dates": DATES[::-1]})
    assert message.startswith("body.dates.1: must be oldest first and strictly increasing: ")
    assert f"{DATES[-2]} (index 1) comes after {DATES[-1]} (index 0)" in message
    assert "newest first: reverse the dates and the prices" in message


def test_one_date_out_of_place_is_named_by_its_index(client):
    dates = list(DATES)
    dates[7], dates[8] = dates[8], dates[7]
    message = refused(client, {"prices": PRICES, "dates": dates})
    assert message.startswith("body.dates.8: must be oldest first and strictly increasing"), message
    assert "newest first" not in message


def test_a_repeated_date_is_422_naming_both_places(client):
    dates = DATES[:5] + [DATES[4]] + DATES[6:]
    message = refused(client, {"prices": PRICES, "dates": dates})
    assert message.startswith(f"body.dates.5: {DATES[4]} is duplicated: dates 4 and 5"), message


def test_the_batch_names_the_series_and_the_index(client):
    dates = DATES[:10] + [DATES[3]] + DATES[11:]
    series = [{"prices": PRICES, "dates": DATES}, {"prices": PRICES, "dates": dates}]
    message = refused(client, {"series": series}, "/forecast/batch")
    assert message.startswith(f"body.series.1.dates.10: {DATES[3]} is duplicated: dates 3 and 10"), message


def test_unsorted_dates_without_a_repeat_still_name_the_order(client):
    dates = [str(datetime.date(2024, 1, 2) + datetime.timedelta(days=3 * i)) for i in range(N)]
    dates[-1] = "2023-12-01"
    message = refused(client, {"prices": PRICES, "dates": dates})
    assert message.startswith(f"body.dates.{N - 1}: must be oldest first"), message


# ---- open, high, low, volume beside the closes ---------------------------------------------------


def bars(n: int = N) -> dict[str, list[float]]:
    """A consistent day for each close: open 1% away, high and low 2% around the larger/smaller."""
    close = np.array(PRICES[:n])
    open_ = close * (1 + 0.01 * np.cos(np.arange(n)))
    return {
        "open": open_.round(4).tolist(),
        "high": (np.maximum(open_, close) * 1.02).round(4).tolist(),
        "low": (np.minimum(open_, close) * 0.98).round(4).tolist(),
        "volume": [float(1000 + 10 * i) for i in range(n)],
    }


def test_ohlc_and_volume_reach_the_model_as_bars(client, seen):
    given = bars()
    response = client.post("/forecast", json={"prices": PRICES, **given})
    assert response.status_code == 200, response.text[:300]
    [series] = seen
    assert series.close.tolist() == PRICES
    for name, values in given.items():
        assert getattr(series, name).tolist() == values, name
    partial = client.post("/forecast", json={"prices": PRICES, "volume": given["volume"]})
    assert partial.status_code == 200 and seen[1].open is None and seen[1].volume.tolist() == given["volume"]


def test_closes_alone_answer_as_before(client, seen):
    plain = client.post("/forecast", json={"prices": PRICES}).json()
    assert seen[0].open is None and seen[0].high is None and seen[0].low is None and seen[0].volume is None
    assert plain["forecast"] == client.post("/forecast", json={"prices": PRICES}).json()["forecast"]


def with_change(field: str, index: int, value) -> dict:
    given = bars()
    given[field] = given[field][:index] + [value] + given[field][index + 1 :]
    return {"prices": PRICES, **given}


BAD_BARS = [
    (
        {"prices": PRICES, "open": bars()["open"][:-1]},
        f"body.open: must have the same length as prices ({N}), got {N - 1}",
    ),
    ({"prices": PRICES, "volume": bars()["volume"] + [1.0]}, f"body.volume: must have the same length as prices ({N})"),
    (with_change("low", 3, PRICES[3] * 1.05), "body.low.3: must be at most the day's "),
    (with_change("high", 7, PRICES[7] * 0.9), "body.high.7: must be at least the day's "),
    (with_change("open", 2, 0), "body.open.2: Input should be greater than 0"),
    (with_change("volume", 4, -1), "body.volume.4: Input should be greater than or equal to 0"),
    (with_change("volume", 4, "12"), "body.volume.4: Input should be a valid number"),
    (with_change("high", 1, 2e9), "body.high.1: Input should be less than or equal to"),
]


@pytest.mark.parametrize("body,words", BAD_BARS)
def test_bars_that_cannot_be_are_422_naming_field_and_index(client, body, words):
    assert refused(client, body).startswith(words)


def test_a_low_above_the_close_names_both_values(client):
    message = refused(client, {"prices": PRICES, "low": [p * 1.001 for p in PRICES]})
    assert message.startswith(
        f"body.low.0: must be at most the day's close: low {PRICES[0] * 1.001:g} > close {PRICES[0]:g}"
    )


def test_non_finite_bar_values_are_422(client):
    raw = '{"prices": [' + ", ".join(map(str, PRICES)) + '], "volume": [' + ", ".join(["5"] * (N - 1) + ["NaN"]) + "]}"
    response = client.post("/forecast", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["message"].startswith(
        f"body.volume.{N - 1}: Input should be a finite number"
    )


def test_the_batch_names_the_series_with_a_bad_bar(client):
    series = [{"prices": PRICES, **bars()}, with_change("high", 5, 1.0)]
    assert refused(client, {"series": series}, "/forecast/batch").startswith("body.series.1.high.5: must be at least")


# ---- how far each attention row is from uniform --------------------------------------------------


def test_uniformity_is_1_for_uniform_rows_and_0_for_one_day():
    from models.forecasting.forecaster import uniformity

    days = 8
    rows = [[1 / days] * days, [0.0] * (days - 1) + [1.0], [0.5, 0.5] + [0.0] * (days - 2), [0.25] * 4 + [0.0] * 4]
    # two days alike: log 2 / log 8 = 1/3; four days alike: log 4 / log 8 = 2/3
    assert uniformity(rows) == pytest.approx([1.0, 0.0, 1 / 3, 2 / 3], abs=1e-6)
    assert uniformity([[1.0]]) == [1.0]  # one day: nothing to prefer


def test_every_answer_says_how_uniform_each_attention_row_is(client):
    body = client.post("/forecast", json={"prices": PRICES, "horizon": 3}).json()
    assert len(body["attention_uniformity"]) == 3
    for row, u in zip(body["attention"], body["attention_uniformity"]):
        p = np.asarray(row) / sum(row)
        assert u == pytest.approx(float(-(p * np.log(p)).sum() / np.log(len(row))), abs=1e-5)
        assert 0 <= u <= 1
    batch = client.post("/forecast/batch", json={"series": [{"prices": PRICES, "horizon": 2}]}).json()
    assert len(batch["results"][0]["attention_uniformity"]) == 2
