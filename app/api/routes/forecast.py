"""POST /forecast and /forecast/batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Body

from app.api.deps import RegistryDep, SettingsDep
from app.api.errors import ERROR_RESPONSES, InvalidField, NotLoaded, echo
from app.core.inference import ForecastKey, served_interval
from app.core.registry import ModelRegistry
from app.schemas.common import ModelRef
from app.schemas.forecast import (
    Baseline,
    ForecastBatchRequest,
    ForecastBatchResponse,
    ForecastRequest,
    ForecastResponse,
)
from models.calendar import OutsideCalendar, TradingCalendar, get_calendar, served_calendars
from models.checkpoint import loaded_checkpoint
from models.forecaster import Forecast, StockForecaster

router = APIRouter(prefix="/forecast", tags=["forecast"], responses=ERROR_RESPONSES)

_WALK = [round(100 * float(np.exp(0.01 * np.sin(i / 3.0) + 0.002 * i)), 2) for i in range(70)]
EXAMPLES = {
    "basic": {
        "summary": "70 closes, 5 days ahead, 80% interval",
        "value": {"prices": _WALK, "horizon": 5, "interval": 0.8},
    },
    "dated": {
        "summary": "With dates: the answer carries the forecast's trading sessions (NYSE calendar)",
        "value": {
            "prices": _WALK,
            "horizon": 3,
            "interval": 0.9,
            "dates": [str(d) for d in get_calendar("XNYS").sessions("2024-01-02", "2024-06-30")[:70]],
            "calendar": "XNYS",
        },
    },
}


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


def pick_forecaster(registry: ModelRegistry) -> StockForecaster:
    if not registry.forecasters:
        raise NotLoaded("no forecaster is loaded; see /readyz")
    return registry.forecasters[sorted(registry.forecasters)[0]]


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


@dataclass
class Checked:
    """A request that passed every rule: its batch key (the interval is the served level it asked
    for) and, when it came with dates, the forecast's dates and the calendar that gave them."""

    key: ForecastKey
    dates: list[date] | None
    calendar: str | None


def check(request: ForecastRequest, model: StockForecaster, loc: tuple) -> Checked:
    """Raises InvalidField naming the rule a request breaks; else what the answer needs."""
    cfg = model.config
    if len(request.prices) < cfg.lookback:
        raise InvalidField(
            (*loc, "prices"),
            f"needs at least {cfg.lookback} prices (the model's window), got {len(request.prices)}",
            "too_short",
        )
    if request.horizon > cfg.horizon:
        raise InvalidField((*loc, "horizon"), f"must be at most {cfg.horizon} (the trained maximum)", "less_than_equal")
    level = served_interval(request.interval, cfg.intervals)
    if level is None:
        raise InvalidField((*loc, "interval"), f"{request.interval} is not served; levels served: {cfg.intervals}")
    if request.dates is not None and len(request.dates) != len(request.prices):
        raise InvalidField(
            (*loc, "dates"), f"must have the same length as prices ({len(request.prices)}), got {len(request.dates)}"
        )
    calendar = trading_calendar(request.calendar, (*loc, "calendar"))
    dates = None
    if request.dates:
        check_order(request.dates, (*loc, "dates"))
        dates = forecast_dates(calendar, request.dates[-1], request.horizon, (*loc, "dates"))
    return Checked(ForecastKey(request.horizon, level), dates, request.calendar if dates else None)


def to_response(checked: Checked, result: Forecast, model: StockForecaster) -> ForecastResponse:
    checkpoint = loaded_checkpoint(model.checkpoint)
    return ForecastResponse(
        forecast=result.forecast,
        lower=result.lower,
        upper=result.upper,
        interval=result.interval,
        attention=result.attention,
        window=model.config.lookback,
        baseline=Baseline(naive=result.naive),
        dates=checked.dates,
        calendar=checked.calendar,
        model=ModelRef(id=checkpoint.id, sha256=checkpoint.sha256),
    )


@router.post(
    "",
    response_model=ForecastResponse,
    summary="Forecast a price path with an interval and the attention over the window",
)
async def forecast(
    request: Annotated[ForecastRequest, Body(openapi_examples=EXAMPLES)], registry: RegistryDep
) -> ForecastResponse:
    model = pick_forecaster(registry)
    checked = check(request, model, ("body",))
    [result] = await registry.forecast(model, [(checked.key, np.asarray(request.prices))])
    return to_response(checked, result, model)


@router.post(
    "/batch",
    response_model=ForecastBatchResponse,
    summary="Forecast several series in one call; results in request order",
)
async def forecast_batch(
    request: ForecastBatchRequest, registry: RegistryDep, settings: SettingsDep
) -> ForecastBatchResponse:
    if len(request.series) > settings.max_batch_series:
        raise InvalidField(
            ("body", "series"),
            f"must hold at most {settings.max_batch_series} series (got {len(request.series)})",
            "too_long",
        )
    model = pick_forecaster(registry)
    checked = [check(item, model, ("body", "series", i)) for i, item in enumerate(request.series)]
    # the model's batcher groups the series by key: one model call per (horizon, interval)
    results = await registry.forecast(
        model, [(c.key, np.asarray(item.prices)) for c, item in zip(checked, request.series)]
    )
    return ForecastBatchResponse(results=[to_response(c, result, model) for c, result in zip(checked, results)])
