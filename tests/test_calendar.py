"""Trading calendars (models/forecasting/calendar.py, models/forecasting/calendars.json from
training/forecasting/calendars.py): the forecast's dates are an exchange's sessions, checked
against holidays and against the dates of real price files; the API's `calendar` field and its coverage limit."""

from __future__ import annotations

import csv
import datetime
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import HORIZON, LOOKBACK
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from models.forecasting.calendar import OutsideCalendar, TradingCalendar, get_calendar, load_calendars, served_calendars

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PRICES = [round(100 + 5 * np.sin(i / 4), 3) for i in range(LOOKBACK + 5)]


@pytest.fixture(scope="module")
def client(untrained_forecaster_dir):
    """The API serving an untrained tiny forecaster (dates do not depend on its weights)."""
    with TestClient(create_app(Settings(checkpoint_dir=untrained_forecaster_dir, models=["fc"]))) as c:
        yield c


def dated(last: str, calendar: str = "XNYS") -> list[str]:
    """len(PRICES) sessions of ``calendar`` ending on ``last``."""
    sessions = get_calendar(calendar).sessions(np.datetime64(last) - np.timedelta64(60, "D"), last)
    return [str(d) for d in sessions[-len(PRICES) :]]


def forecast(client, last: str, horizon: int, **extra):
    return client.post("/forecast", json={"prices": PRICES, "dates": dated(last), "horizon": horizon, **extra})


def test_christmas_2020_is_no_session(client):
    """Thursday 2020-12-24 is the last price: the next session is Monday the 28th, not Friday
    the 25th (which Mon-Fri business days gave)."""
    response = forecast(client, "2020-12-24", 3)
    assert response.status_code == 200, response.text
    assert response.json()["dates"] == ["2020-12-28", "2020-12-29", "2020-12-30"]
    assert response.json()["calendar"] == "XNYS"


def test_good_friday_and_easter_monday_per_exchange(client):
    """Good Friday 2021-04-02 closes New York, London and Toronto; Easter Monday only London."""
    days = {code: forecast(client, "2021-04-01", 2, calendar=code).json()["dates"] for code in ("XNYS", "XLON", "XTSE")}
    assert days == {
        "XNYS": ["2021-04-05", "2021-04-06"],
        "XLON": ["2021-04-06", "2021-04-07"],
        "XTSE": ["2021-04-05", "2021-04-06"],
    }


def test_a_weekend_last_date_counts_from_the_session_before():
    calendar = get_calendar("XNYS")
    assert calendar.sessions_after("2021-07-03", 1).tolist() == calendar.sessions_after("2021-07-02", 1).tolist()
    assert str(calendar.sessions_after("2021-07-02", 1)[0]) == "2021-07-06"  # the 5th: Independence Day observed


def test_unknown_calendar_is_422_listing_the_served_ones(client):
    response = client.post("/forecast", json={"prices": PRICES, "calendar": "NOPE"})
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    assert message.startswith("body.calendar: 'NOPE' is not served; calendars served: ")
    assert all(code in message for code in ("XNYS", "XLON", "XTKS", "XNAS"))


def test_dates_past_the_calendars_coverage_are_422_naming_its_last_date(client):
    calendar = get_calendar("XNYS")
    last_sessions = calendar.sessions("2035-12-01", str(calendar.last))
    fits = str(last_sessions[-1 - HORIZON])  # its HORIZON sessions end on the last covered session
    ok = forecast(client, fits, HORIZON)
    assert ok.status_code == 200, ok.text
    assert ok.json()["dates"][-1] == str(last_sessions[-1])
    late = forecast(client, str(last_sessions[-HORIZON]), HORIZON)
    assert late.status_code == 422, late.text
    assert late.json()["message"].startswith("body.dates: XNYS covers ")
    assert f"past its last covered date {calendar.last}" in late.json()["message"]
    series = [{"prices": PRICES}, {"prices": PRICES, "dates": dated(str(last_sessions[-1])), "horizon": 1}]
    batch = client.post("/forecast/batch", json={"series": series})
    assert batch.status_code == 422 and batch.json()["message"].startswith("body.series.1.dates: XNYS covers")


def test_sessions_before_the_first_covered_date_are_refused():
    tokyo = get_calendar("XTKS")  # exchange-calendars knows Tokyo from 1997 on
    assert str(tokyo.first) == "1997-01-01"
    with pytest.raises(OutsideCalendar, match="before its first date"):
        tokyo.sessions_after("1996-06-03", 2)
    with pytest.raises(OutsideCalendar, match="covers 1997-01-01"):
        tokyo.sessions("1996-12-01", "1997-02-01")


def test_an_alias_shares_its_targets_sessions():
    nasdaq, nyse = get_calendar("XNAS"), get_calendar("XNYS")
    assert np.array_equal(nasdaq.sessions("2024-01-01", "2024-12-31"), nyse.sessions("2024-01-01", "2024-12-31"))


def test_every_served_calendar_has_the_sessions_a_year_should_have():
    """Between 240 and 255 sessions in 2019 everywhere (weekdays minus 5 to 20 holidays), and no
    weekend among them: a file that lost its holidays or its weekmask would fail."""
    for code, calendar in served_calendars().items():
        sessions = calendar.sessions("2019-01-01", "2019-12-31")
        assert 240 <= len(sessions) <= 255, (code, len(sessions))
        assert not np.is_busday(sessions, weekmask="0000011").any(), code


def dates_in(path: Path, column: str, since: str = "0000") -> np.ndarray:
    with open(path, newline="") as handle:
        days = sorted({row[column] for row in csv.DictReader(handle) if row[column] >= since})
    return np.array(days, dtype="datetime64[D]")


@pytest.mark.parametrize("name,column,since", [("all_stocks_5yr.csv", "date", ""), ("AAPL.csv", "Date", "1990")])
def test_shipped_nyse_calendar_matches_real_price_files(name, column, since):
    """The backtest's steps are rows of the price file; the API's are calendar sessions. They are
    the same days: every date of the Kaggle S&P 500 file (2013-02-08..2018-02-07, 455 tickers) and
    of Yahoo's AAPL since 1990 (30 years: 9/11, Hurricane Sandy, days of mourning) is an XNYS
    session, and every XNYS session between their first and last date is in them."""
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{path} not found: the real-data check needs ../shared/data/{name}")
    days = dates_in(path, column, since)
    assert len(days) > 1000
    sessions = get_calendar("XNYS").sessions(days[0], days[-1])
    assert np.setdiff1d(days, sessions).tolist() == [] and np.setdiff1d(sessions, days).tolist() == []


def test_the_generator_writes_what_is_shipped(tmp_path):
    """training.forecasting.calendars rebuilds the shipped closed days of New York and London for 2019..2021
    from exchange-calendars, and the written file loads into the same sessions."""
    pytest.importorskip("exchange_calendars", reason="exchange-calendars (the train extra) is not installed")
    from training.forecasting.calendars import main

    out = tmp_path / "calendars.json"
    data = main(["--codes", "XNYS,XNAS,XLON", "--start", "2019-01-01", "--end", "2021-12-31", "--out", str(out)])
    assert data["aliases"] == {"XNAS": "XNYS"} and sorted(data["calendars"]) == ["XLON", "XNYS"]
    written = load_calendars(out)
    for code in ("XNYS", "XLON"):
        shipped = get_calendar(code)
        assert np.array_equal(
            written[code].sessions("2019-01-01", "2021-12-31"), shipped.sessions("2019-01-01", "2021-12-31")
        )
    assert json.loads(out.read_text())["calendars"]["XNYS"]["first"] == "2019-01-01"
    with pytest.raises(OutsideCalendar):
        written["XNYS"].sessions_after("2021-12-30", 2)


def test_a_calendar_from_its_parts():
    """A two-day-a-week exchange with one holiday: sessions follow the weekmask and skip it."""
    calendar = TradingCalendar(
        "TEST",
        "1000100",
        np.array(["2024-01-05"], dtype="datetime64[D]"),
        np.datetime64("2024-01-01"),
        np.datetime64("2024-02-29"),
    )
    assert calendar.sessions_after(datetime.date(2024, 1, 1), 3).tolist() == [
        datetime.date(2024, 1, 8),
        datetime.date(2024, 1, 12),
        datetime.date(2024, 1, 15),
    ]
