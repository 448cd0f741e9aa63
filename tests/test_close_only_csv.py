"""POST /forecast/csv with a file of dates and closes only (no open, high, low, volume, ticker
column): served by the shipped forecaster, the missing columns said in the warnings."""

from __future__ import annotations

import csv
import io

import pytest
from conftest import ROOT
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app

SHIPPED = ROOT / "checkpoints"
MODEL = "forecaster-sp500"


@pytest.fixture(scope="module")
def client():
    if not (SHIPPED / MODEL / "SHA256SUMS").exists():
        pytest.skip(f"the shipped checkpoint {MODEL} is not present")
    with TestClient(create_app(Settings(checkpoint_dir=SHIPPED, models=[MODEL]))) as c:
        yield c


def close_only(header: str, newline: str = "\n") -> bytes:
    """examples/prices.csv (Yahoo) cut to its Date and Close columns, under ``header``."""
    rows = list(csv.DictReader((ROOT / "examples" / "prices.csv").open()))
    out = io.StringIO()
    out.write(header + newline)
    for row in rows:
        cells = {"date": row["Date"], "close": row["Close"]}
        out.write(",".join(cells[name.strip().lower()] for name in header.split(",")) + newline)
    return out.getvalue().encode()


@pytest.mark.parametrize(
    "header,newline",
    [("Date,Close", "\n"), ("date,close", "\n"), ("Close,Date", "\n"), ("DATE, CLOSE", "\r\n")],
)
@pytest.mark.parametrize("filename", ["prices.csv", "spy.csv"])
def test_a_file_of_dates_and_closes_only_is_forecast(client, header, newline, filename):
    response = client.post(
        "/forecast/csv?horizon=5", files={"file": (filename, close_only(header, newline), "text/csv")}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["forecast"]) == 5 and all(price > 0 for price in body["forecast"])
    assert body["ticker"] == filename.removesuffix(".csv").upper()
    for column in ("open", "high", "low", "volume"):  # tolerated, and said
        assert any(w.startswith(f"{column}: missing on all") for w in body["warnings"]), body["warnings"]
