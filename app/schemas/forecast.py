"""Request and response bodies of /forecast and /forecast/batch."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, StrictFloat, StrictInt

from app.schemas.common import MAX_BATCH_SERIES, FewErrors, ModelRef, Strict, Text, first_errors
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
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# the fast checks of first_errors: the rules of Price, Volume and IsoDate (NaN fails every comparison)
def _is_price(value: object) -> bool:
    return type(value) in (int, float) and 0 < value <= MAX_PRICE  # type: ignore[operator]


def _is_volume(value: object) -> bool:
    return type(value) in (int, float) and 0 <= value <= MAX_VOLUME  # type: ignore[operator]


def _is_date(value: object) -> bool:
    if type(value) is not str or not _ISO_DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


# lists of prices, volumes and dates: validation stops after a few invalid items (the rest counted)
Prices = Annotated[list[Price], first_errors(_is_price, MAX_PRICES)]
Volumes = Annotated[list[Volume], first_errors(_is_volume, MAX_PRICES)]
IsoDates = Annotated[list[IsoDate], first_errors(_is_date, MAX_PRICES)]


def _bar_field(what: str) -> Any:
    return Field(None, max_length=MAX_PRICES, description=f"{what}, oldest first, as many as prices (optional)")


class ForecastRequest(Strict):
    prices: Prices = Field(
        ...,
        min_length=1,
        max_length=MAX_PRICES,
        description="daily closes, oldest first; finite, > 0, <= 1e9; at least the model's window (see /models)",
    )
    horizon: StrictInt = Field(5, ge=1, description="trading days ahead, 1..the trained maximum")
    interval: StrictFloat = Field(0.8, description="central interval level; one the model serves")
    dates: IsoDates | None = Field(None, max_length=MAX_PRICES, description="ISO dates of the prices (same length)")
    open: Prices | None = _bar_field("daily opens; finite, > 0, <= 1e9, and within the day's low..high")
    high: Prices | None = _bar_field("daily highs; >= the day's open, close (prices) and low")
    low: Prices | None = _bar_field("daily lows; <= the day's open, close (prices) and high")
    volume: Volumes | None = _bar_field("daily volumes; finite, >= 0, <= 1e15")
    calendar: Text = Field(
        DEFAULT_CALENDAR,
        description="exchange code whose trading sessions date the forecast (with dates); served: "
        + ", ".join(sorted(served_calendars())),
    )


class ForecastBatchRequest(Strict):
    series: Annotated[list[ForecastRequest], FewErrors] = Field(
        ...,
        min_length=1,
        max_length=MAX_BATCH_SERIES,
        description="series, each as in /forecast; at most ATTNSERVE_MAX_BATCH_SERIES (256; a hard ceiling of "
        f"{MAX_BATCH_SERIES})",
    )


class Baseline(Strict):
    naive: list[float] = Field(..., description="the last price, repeated: the random-walk forecast")


class WidthDay(BaseModel):
    day: int = Field(..., description="the day of the window: 0 the last price, -1 the day before, ...")
    share: float = Field(..., description="its share of the variance estimate behind the step's interval, 0..1")


class WidthStep(BaseModel):
    """Why a step's interval is as wide as it is: the days whose variance proxies (squared return,
    range, gap) its attention weighed most, and how much of the variance estimate they carry."""

    step: int = Field(..., description="days ahead, 1..horizon")
    days: list[WidthDay] = Field(..., description="the days carrying the most of the variance, most first (3)")
    share: float = Field(..., description="what those days carry together, 0..1")
    uniform_share: float = Field(..., description="what as many days would carry under uniform weights (3 / L)")
    long_run_share: float = Field(
        ...,
        description="the share the model's long-run variance level carries (0 for a model without one); for a "
        "model that reads a longer history, that level is a learned multiple of the series' variance over it",
    )
    summary: str = Field(..., description='in words, e.g. "days -3, -17 and 0 carry 41% of the width\'s variance"')


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
    width: list[WidthStep] | None = Field(
        None,
        description="per step ahead, the days that carry most of the interval's variance estimate: for a model "
        "whose attention weights are the weights of that estimate (architecture.variance 'attention'); null "
        "for one whose width is made otherwise",
    )
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
