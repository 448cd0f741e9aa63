"""Request and response bodies of /forecast and /forecast/batch."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictFloat, StrictInt

from app.schemas.common import ModelRef, Strict, Text
from models.forecasting.calendar import DEFAULT_CALENDAR, served_calendars

MAX_PRICES = 10_000


def _iso_string(value):
    if not isinstance(value, str):
        raise ValueError("must be an ISO date string YYYY-MM-DD")
    return value


MAX_PRICE = 1e9  # keeps every price path finite: exp() of a forecast return cannot overflow
Price = Annotated[float, Field(strict=True, gt=0, le=MAX_PRICE, allow_inf_nan=False)]
IsoDate = Annotated[date, BeforeValidator(_iso_string)]
MAX_VOLUME = 1e15
Volume = Annotated[float, Field(strict=True, ge=0, le=MAX_VOLUME, allow_inf_nan=False)]


def _bar_field(what: str) -> Any:
    return Field(None, max_length=MAX_PRICES, description=f"{what}, oldest first, as many as prices (optional)")


class ForecastRequest(Strict):
    prices: list[Price] = Field(
        ...,
        min_length=1,
        max_length=MAX_PRICES,
        description="daily closes, oldest first; finite, > 0, <= 1e9; at least the model's window (see /models)",
    )
    horizon: StrictInt = Field(5, ge=1, description="trading days ahead, 1..the trained maximum")
    interval: StrictFloat = Field(0.8, description="central interval level; one the model serves")
    dates: list[IsoDate] | None = Field(None, description="ISO dates of the prices (same length)")
    open: list[Price] | None = _bar_field("daily opens; finite, > 0, <= 1e9, and within the day's low..high")
    high: list[Price] | None = _bar_field("daily highs; >= the day's open, close (prices) and low")
    low: list[Price] | None = _bar_field("daily lows; <= the day's open, close (prices) and high")
    volume: list[Volume] | None = _bar_field("daily volumes; finite, >= 0, <= 1e15")
    calendar: Text = Field(
        DEFAULT_CALENDAR,
        description="exchange code whose trading sessions date the forecast (with dates); served: "
        + ", ".join(sorted(served_calendars())),
    )


class ForecastBatchRequest(Strict):
    series: list[ForecastRequest] = Field(..., min_length=1)


class Baseline(Strict):
    naive: list[float] = Field(..., description="the last price, repeated: the random-walk forecast")


class ForecastResponse(Strict):
    forecast: list[float] = Field(..., description="median price path, one value per horizon step")
    lower: list[float]
    upper: list[float]
    interval: float
    attention: list[list[float]] = Field(
        ..., description="H rows x L columns; column j is the j-th of the last L prices; rows sum to 1"
    )
    attention_uniformity: list[float] = Field(
        ...,
        description="per attention row, how far it is from uniform: its normalised entropy H / log L, 1.0 = "
        "uniform (every day weighs 1/L: the row points at nothing), 0.0 = all weight on one day",
    )
    window: int = Field(..., description="L, the prices the model looked at")
    baseline: Baseline
    dates: list[date] | None = Field(
        ..., description="trading sessions of <calendar> after the last date (null without dates)"
    )
    calendar: str | None = Field(None, description="the calendar that dated `dates` (null without dates)")
    model: ModelRef


class ForecastBatchResponse(Strict):
    results: list[ForecastResponse]


class PriceFileRead(Strict):
    layout: str = Field(..., description='"yahoo" (Date,Open,High,Low,Close,Adj Close,Volume) or "kaggle" (...,Name)')
    close_column: str = Field(..., description="the column read as the close: Adj Close when a Yahoo file has it")
    rows: int = Field(..., description="rows of the ticker with a close, after dropping Yahoo's null rows")
    dates: list[date] = Field(..., description="the dates of the rows the model read (the newest L + 1), oldest first")
    close: list[float] = Field(..., description="their closes")
    sent: list[str] = Field(
        ..., description='the fields the model got: "close" and those of open, high, low, volume kept'
    )


class ForecastCsvResponse(ForecastResponse):
    ticker: str | None = Field(
        ..., description="the ticker forecast: ?ticker=, a Kaggle file's only ticker, or a Yahoo file's name"
    )
    warnings: list[str] = Field(..., description="what was dropped or left out, and why")
    file: PriceFileRead
