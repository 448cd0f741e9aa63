"""The rules a forecast request must keep beyond its schema (the served calendars, several fields
at once) and the model's own limits (horizon, window, interval levels: ``StockForecaster``'s,
mapped here to the request's fields); each broken rule is an ``InvalidField`` naming the field,
the index where there is one, and the rule."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import numpy as np

from app.api.errors import InvalidField, echo
from app.schemas.forecast import ForecastRequest
from models.forecasting.bars import bar_problem
from models.forecasting.calendar import OutsideCalendar, TradingCalendar, get_calendar, served_calendars
from models.forecasting.forecaster import Bars, ForecastKey, StockForecaster
from models.served import InputError

BAR_FIELDS = ("open", "high", "low", "volume")


@contextmanager
def model_rules(loc: tuple) -> Iterator[None]:
    """The model's ``InputError`` as an ``InvalidField`` at ``loc`` + the input it names."""
    try:
        yield
    except InputError as error:
        raise InvalidField((*loc, error.field), error.message, error.kind) from None


def trading_calendar(code: str, loc: tuple) -> TradingCalendar:
    """The served calendar ``code``; else InvalidField at ``loc`` listing the served codes."""
    try:
        return get_calendar(code)
    except KeyError:
        served = ", ".join(sorted(served_calendars()))
        raise InvalidField(loc, f"'{echo(code)}' is not served; calendars served: {served}") from None


def forecast_dates(calendar: TradingCalendar, last: date, horizon: int, loc: tuple) -> list[date]:
    """The ``horizon`` sessions of ``calendar`` after ``last``; InvalidField at ``loc`` naming the
    calendar's last covered date when they would run past it (its holidays are unknown there)."""
    try:
        return [d.item() for d in calendar.sessions_after(last, horizon)]
    except OutsideCalendar as error:
        raise InvalidField(loc, str(error)) from None


def off_calendar(days: list[date], calendar: TradingCalendar, code: str) -> list[str]:
    """A warning when some of ``days`` are not sessions of the calendar chosen (a file from
    another exchange?); none outside the calendar's coverage."""
    try:
        sessions = calendar.sessions(days[0], days[-1])
    except OutsideCalendar:
        return []
    stray = np.setdiff1d(np.array(days, dtype="datetime64[D]"), sessions)
    if not len(stray):
        return []
    return [
        f"{len(stray)} of the {len(days)} dates read are not {code} sessions (the first: {stray[0]}): is {code} right?"
    ]


def check_order(dates: list[date], loc: tuple) -> None:
    """Dates must be oldest first and strictly increasing (one price per day): InvalidField at
    ``loc`` + the index of the first repeated date, else of the first date not after the one
    before it (a newest-first export, say)."""
    seen: dict[date, int] = {}
    for i, day in enumerate(dates):
        if day in seen:
            raise InvalidField(
                (*loc, i), f"{day} is duplicated: dates {seen[day]} and {i} (one price per day, oldest first)"
            )
        seen[day] = i
    for i in range(1, len(dates)):
        if dates[i] < dates[i - 1]:
            newest_first = all(a > b for a, b in zip(dates, dates[1:]))
            raise InvalidField(
                (*loc, i),
                f"must be oldest first and strictly increasing: {dates[i]} (index {i}) comes after "
                f"{dates[i - 1]} (index {i - 1})"
                + ("; these are newest first: reverse the dates and the prices" if newest_first else ""),
            )


def check_bars(request: ForecastRequest, loc: tuple) -> Bars:
    """The request's prices and optional open/high/low/volume as Bars, float64 (N,) each: every
    given field as long as prices, and each day's low <= open, close <= high."""
    close = np.asarray(request.prices, dtype=np.float64)
    given: dict[str, np.ndarray] = {}
    for name in BAR_FIELDS:
        values = getattr(request, name)
        if values is None:
            continue
        if len(values) != len(close):
            raise InvalidField((*loc, name), f"must have the same length as prices ({len(close)}), got {len(values)}")
        given[name] = np.asarray(values, dtype=np.float64)
    problem = bar_problem(close, given.get("open"), given.get("high"), given.get("low"))
    if problem:
        field, i, why = problem
        raise InvalidField((*loc, field, i), why)
    return Bars(close, **given)


def check_options(
    horizon: int, interval: float, calendar: str, model: StockForecaster, loc: tuple
) -> tuple[ForecastKey, TradingCalendar]:
    """The batch key (its interval the served level asked for) and the calendar; InvalidField at
    ``loc`` + the field otherwise."""
    with model_rules(loc):
        key = model.key(horizon, interval)
    return key, trading_calendar(calendar, (*loc, "calendar"))


@dataclass
class Checked:
    """A request that passed every rule: its batch key, its series, and when it came with dates,
    the forecast's dates and the calendar that gave them."""

    key: ForecastKey
    bars: Bars
    dates: list[date] | None
    calendar: str | None


def check(request: ForecastRequest, model: StockForecaster, loc: tuple) -> Checked:
    """Raises InvalidField naming the rule a request breaks; else what the model and the answer need."""
    with model_rules(loc):
        model.check_length(len(request.prices))
    key, calendar = check_options(request.horizon, request.interval, request.calendar, model, loc)
    if request.dates is not None and len(request.dates) != len(request.prices):
        raise InvalidField(
            (*loc, "dates"), f"must have the same length as prices ({len(request.prices)}), got {len(request.dates)}"
        )
    bars = check_bars(request, loc)
    dates = None
    if request.dates:
        check_order(request.dates, (*loc, "dates"))
        dates = forecast_dates(calendar, request.dates[-1], request.horizon, (*loc, "dates"))
    return Checked(key, bars, dates, request.calendar if dates else None)
