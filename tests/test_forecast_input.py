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
from models.calendar import get_calendar

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
