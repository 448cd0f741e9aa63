"""POST /forecast/csv: Yahoo and Kaggle price files, generated small, on an untrained tiny
forecaster; the answer is /forecast's for the same rows, and every bad file is a 4xx naming it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import HORIZON, LOOKBACK
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from models.forecasting.calendar import get_calendar

YAHOO = "Date,Open,High,Low,Close,Adj Close,Volume"
KAGGLE = "date,open,high,low,close,volume,Name"
SPLIT = 0.5  # Adj Close = Close x 0.5 throughout: a 2-for-1 split after the file's last day


def sessions(n: int, last: str = "2024-06-28") -> list[str]:
    return [str(d) for d in get_calendar("XNYS").sessions("2015-01-01", last)[-n:]]


def ohlcv(n: int, seed: int = 0) -> list[tuple[float, float, float, float, int]]:
    """(open, high, low, close, volume) per day: a random walk with consistent bars."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = close * np.exp(rng.normal(0, 0.005, n))
    high = np.maximum(open_, close) * 1.01
    low = np.minimum(open_, close) * 0.99
    return [
        (round(o, 4), round(h, 4), round(lo, 4), round(c, 4), 1000 + i)
        for i, (o, h, lo, c) in enumerate(zip(open_, high, low, close))
    ]


def yahoo_rows(n: int, seed: int = 0, last: str = "2024-06-28") -> list[str]:
    return [
        f"{d},{o},{h},{lo},{c},{round(c * SPLIT, 6)},{v}"
        for d, (o, h, lo, c, v) in zip(sessions(n, last), ohlcv(n, seed))
    ]


def yahoo(rows: list[str]) -> bytes:
    return ("\n".join([YAHOO, *rows]) + "\n").encode()


def kaggle(tickers: dict[str, int]) -> bytes:
    lines = [KAGGLE]
    for k, (name, n) in enumerate(tickers.items()):
        lines += [f"{d},{o},{h},{lo},{c},{v},{name}" for d, (o, h, lo, c, v) in zip(sessions(n), ohlcv(n, k))]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def client(untrained_forecaster_dir):
    with TestClient(create_app(Settings(checkpoint_dir=untrained_forecaster_dir, models=["fc"]))) as c:
        yield c


def upload(client, data: bytes, name: str = "ACME.csv", **params):
    return client.post("/forecast/csv", params=params, files={"file": (name, io.BytesIO(data), "text/csv")})


def ok(client, data: bytes, name: str = "ACME.csv", **params) -> dict:
    response = upload(client, data, name, **params)
    assert response.status_code == 200, response.text[:400]
    return response.json()


def refused(client, data: bytes, status: int = 422, **params) -> str:
    response = upload(client, data, **params)
    assert response.status_code == status, response.text[:400]
    return response.json()["message"]


def test_a_yahoo_file_answers_as_forecast_does_for_its_last_rows(client, seen):
    """The adjusted closes of the newest L + 1 rows, their bars scaled by the same factor; the
    answer equals /forecast's for exactly those closes, bars and dates."""
    rows = yahoo_rows(LOOKBACK + 30)
    answer = ok(client, yahoo(rows), horizon=3, interval=0.9)
    window = [line.split(",") for line in rows[-(LOOKBACK + 1) :]]
    adj = [float(r[5]) for r in window]
    assert answer["ticker"] == "ACME" and answer["warnings"] == []
    assert answer["file"] == {
        "layout": "yahoo",
        "close_column": "Adj Close",
        "rows": LOOKBACK + 30,
        "dates": [r[0] for r in window],
        "close": adj,
        "sent": ["close", "open", "high", "low", "volume"],
    }
    [bars] = seen
    assert bars.close.tolist() == adj
    assert np.allclose(bars.open, [float(r[1]) * SPLIT for r in window], rtol=1e-9)
    assert bars.volume.tolist() == [float(r[6]) for r in window]
    body = {key: getattr(bars, key).tolist() for key in ("open", "high", "low", "volume")}
    same = client.post(
        "/forecast",
        json={"prices": adj, "dates": answer["file"]["dates"], "horizon": 3, "interval": 0.9, **body},
    ).json()
    for key in ("forecast", "lower", "upper", "attention", "dates", "calendar", "interval", "window"):
        assert answer[key] == same[key], key
    assert answer["dates"] == [str(d) for d in get_calendar("XNYS").sessions_after(window[-1][0], 3)]


def test_row_order_does_not_matter_but_a_repeated_date_does(client):
    rows = yahoo_rows(LOOKBACK + 10, seed=3)
    forward = ok(client, yahoo(rows))
    assert ok(client, yahoo(rows[::-1]))["forecast"] == forward["forecast"]  # a newest-first export
    shuffled = list(np.random.default_rng(0).permutation(rows))
    assert ok(client, yahoo(shuffled))["file"]["dates"] == forward["file"]["dates"]
    repeated = rows[:5] + [rows[4].replace(",1004", ",999")] + rows[5:]
    day = rows[4].split(",")[0]
    assert refused(client, yahoo(repeated)) == f"body.file: {day} appears twice, on lines 6 and 7 (one row per day)"


def test_yahoos_null_rows_are_dropped_and_counted(client):
    rows = yahoo_rows(LOOKBACK + 10)
    nulls = [f"{d},null,null,null,null,null,null" for d in ("2024-06-29", "2024-06-30")]  # days without data
    answer = ok(client, yahoo(rows[:-3] + nulls + rows[-3:]))
    assert answer["warnings"] == [
        f"dropped 2 rows without a close (Yahoo writes null on days without data), the first on line {len(rows) - 1}"
    ]
    assert answer["file"]["rows"] == len(rows) and answer["file"]["dates"][-1] == rows[-1].split(",")[0]


def test_a_whole_history_is_fine(client):
    """12,000 rows (the JSON body takes at most 10,000 prices): only the newest are read."""
    days = np.busday_offset("1978-01-02", np.arange(12_000), roll="forward")  # weekdays to 2023
    rows = [f"{d},{o},{h},{lo},{c},{c},{v}" for d, (o, h, lo, c, v) in zip(days, ohlcv(12_000))]
    answer = ok(client, yahoo(rows))
    assert answer["file"]["rows"] == 12_000 and len(answer["file"]["close"]) == LOOKBACK + 1


def test_a_kaggle_file_of_several_tickers_needs_one_named(client, seen):
    data = kaggle({"AAA": LOOKBACK + 5, "BBB": LOOKBACK + 8, "CCC": LOOKBACK + 2})
    message = refused(client, data)
    assert message == "query.ticker: required: the file holds 3 tickers (AAA, BBB, CCC); name one"
    assert refused(client, data, ticker="ZZZ") == "query.ticker: 'ZZZ' is not in the file; it holds AAA, BBB, CCC"
    answer = ok(client, data, ticker="BBB")
    assert answer["ticker"] == "BBB" and answer["file"]["rows"] == LOOKBACK + 8
    assert ok(client, data, ticker="bbb") == answer  # a ticker is matched whatever its case
    assert answer["file"]["layout"] == "kaggle" and answer["file"]["close_column"] == "close"
    expected = [c for _, _, _, c, _ in ohlcv(LOOKBACK + 8, seed=1)][-(LOOKBACK + 1) :]
    assert seen[-1].close.tolist() == expected
    alone = ok(client, kaggle({"ONLY": LOOKBACK + 1}))
    assert alone["ticker"] == "ONLY"


def with_cell(rows: list[str], row: int, column: int, text: str) -> None:
    cells = rows[row].split(",")
    cells[column] = text
    rows[row] = ",".join(cells)


def test_a_bar_that_cannot_be_loses_open_high_low_on_its_day_only(client, seen):
    rows = yahoo_rows(LOOKBACK + 5)
    for row in (-2, -4):
        with_cell(rows, row, 3, str(float(rows[row].split(",")[4]) * 1.1))  # the low above the close
    answer = ok(client, yahoo(rows))
    [warning] = answer["warnings"]
    assert warning.startswith(f"line {len(rows) - 2}: low must be at most the day's ")
    assert warning.endswith("and 1 other day like it; the model gets no open, high or low on those days")
    assert answer["file"]["sent"] == ["close", "open", "high", "low", "volume"]
    bars = seen[-1]
    for key in ("open", "high", "low"):
        assert np.isnan(getattr(bars, key)).tolist() == [i in (LOOKBACK - 3, LOOKBACK - 1) for i in range(LOOKBACK + 1)]
    assert np.isfinite(bars.volume).all()


def test_missing_figures_are_missing_on_their_days_only(client, seen):
    """Missing cells in open (2 days) and volume (1 day): NaN on those days, every other day's
    figures as read (scaled by Adj Close / Close); a column empty on every row is left out."""
    rows = yahoo_rows(LOOKBACK + 5)
    for row, column in ((-1, 1), (-7, 1), (-3, 6)):
        with_cell(rows, row, column, "" if column == 1 else "null")
    answer = ok(client, yahoo(rows))
    window = rows[-(LOOKBACK + 1) :]
    assert answer["warnings"] == [
        f"open: missing on 2 of the {LOOKBACK + 1} rows read (the first on line {len(rows) - 5}); "
        "the model gets no open on those days",
        f"volume: missing on 1 of the {LOOKBACK + 1} rows read (the first on line {len(rows) - 1}); "
        "the model gets no volume on those days",
    ]
    assert answer["file"]["sent"] == ["close", "open", "high", "low", "volume"]
    bars = seen[-1]
    gaps = {"open": (LOOKBACK - 6, LOOKBACK), "volume": (LOOKBACK - 2,)}
    for key, column, factor in (("open", 1, SPLIT), ("high", 2, SPLIT), ("volume", 6, 1.0)):
        values = getattr(bars, key)
        missing = gaps.get(key, ())
        assert np.isnan(values).tolist() == [i in missing for i in range(LOOKBACK + 1)], key
        read = [float(r.split(",")[column]) * factor for i, r in enumerate(window) if i not in missing]
        assert np.allclose(values[~np.isnan(values)], read, rtol=1e-9), key
    assert np.all(bars.low <= bars.close) and np.all(bars.high >= bars.close)
    for row in range(len(rows)):
        with_cell(rows, row, 1, "null")
    answer = ok(client, yahoo(rows))
    assert answer["warnings"][0] == f"open: missing on all {LOOKBACK + 1} rows read; the model gets no open"
    assert answer["file"]["sent"] == ["close", "high", "low", "volume"] and seen[-1].open is None


def test_json_bars_refuse_null_naming_the_field_and_index(client):
    """The JSON body has no per-day missing value: a null is a 422 at its index (leave the whole
    field out, or upload a CSV)."""
    closes = [100.0 + i for i in range(LOOKBACK + 2)]
    opens: list[float | None] = list(closes)
    opens[7] = None
    response = client.post("/forecast", json={"prices": closes, "open": opens})
    assert response.status_code == 422
    assert response.json()["message"] == "body.open.7: Input should be a valid number"


def test_dates_off_the_calendar_are_warned_about(client):
    rows = yahoo_rows(LOOKBACK + 5, last="2024-03-28")
    rows.append(rows[-1].replace("2024-03-28", "2024-03-29", 1))  # Good Friday: New York is closed
    answer = ok(client, yahoo(rows))
    assert answer["warnings"] == [
        f"1 of the {LOOKBACK + 1} dates read are not XNYS sessions (the first: 2024-03-29): is XNYS right?"
    ]
    assert ok(client, yahoo(rows), calendar="XLON")["dates"][0] == "2024-04-02"  # Easter Monday closes London


BAD_FILES = [
    (b"", "body.file: is empty; expected a header Date,Open,High,Low,Close,Adj Close,Volume (Yahoo) or "),
    (b'{"prices": [1, 2, 3]}', "body.file: not a daily price CSV: its header must be Date,Open,High,Low,Close,"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "body.file: is not UTF-8 text (byte 0)"),
    (b"Date,Open,High,Low,Adj Close,Volume\n", "missing close in the first line"),
    (yahoo(["2024-01-02,1,1,1,abc,1,5"]), "body.file: line 2, Close: 'abc' is not a number"),
    (
        yahoo(["2024-01-02,1,1,1,1,1,5", "02/01/2024,1,1,1,1,1,5"]),
        "body.file: line 3, Date: '02/01/2024' is not a date",
    ),
    (yahoo(["2024-02-30,1,1,1,1,1,5"]), "body.file: line 2, Date: '2024-02-30' is not a valid date"),
    (yahoo(["2024-01-02,1,1,1,-4,1,5"]), "body.file: line 2, Close: must be a finite number > 0 and <= 1e+09"),
    (yahoo(["2024-01-02,1,1,1,1,1,inf"]), "body.file: line 2, Volume: must be a finite number >= 0"),
    (yahoo(["2024-01-02,1,1"]), "body.file: line 2: 3 fields, the header has 7"),
    (yahoo(yahoo_rows(LOOKBACK - 1)), f"rows with a close of ACME; the model needs at least {LOOKBACK} (its window)"),
]


@pytest.mark.parametrize("data,words", BAD_FILES)
def test_a_bad_file_is_422_naming_what_is_wrong(client, data, words):
    assert words in refused(client, data)


def test_bad_query_parameters_are_422_naming_them(client):
    data = yahoo(yahoo_rows(LOOKBACK + 2))
    assert (
        refused(client, data, horizon=HORIZON + 1) == f"query.horizon: must be at most {HORIZON} (the trained maximum)"
    )
    assert refused(client, data, interval=0.5).startswith("query.interval: 0.5 is not served")
    assert refused(client, data, calendar="MARS").startswith("query.calendar: 'MARS' is not served; calendars served:")
    late = yahoo(yahoo_rows(LOOKBACK + 2, last="2035-12-31"))
    assert "past its last covered date 2035-12-31" in refused(client, late)
    response = client.post("/forecast/csv", json={"prices": [1.0] * 30})
    assert response.status_code == 422 and response.json()["message"].startswith("body.file: Field required")


def test_the_upload_has_its_own_byte_limit(untrained_forecaster_dir):
    """Uploads may be bigger than a JSON body (ATTNSERVE_MAX_BODY_BYTES) up to
    ATTNSERVE_MAX_UPLOAD_BYTES; above it, a 413 naming that setting."""
    data = yahoo(yahoo_rows(200))
    settings = Settings(
        checkpoint_dir=untrained_forecaster_dir, models=["fc"], max_body_bytes=2_000, max_upload_bytes=len(data) + 1_000
    )
    with TestClient(create_app(settings)) as small:
        assert len(data) > 2_000 and upload(small, data).status_code == 200
        response = upload(small, data + b"x" * 2_000)
        assert response.status_code == 413
        assert (
            response.json()["message"]
            == f"request body over the {len(data) + 1_000} byte limit (ATTNSERVE_MAX_UPLOAD_BYTES)"
        )
        assert small.post("/forecast", json={"prices": [100.0] * 400}).status_code == 413  # JSON keeps its limit
