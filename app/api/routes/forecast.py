"""POST /forecast and /forecast/batch."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Body

from app.api.deps import RegistryDep, SettingsDep
from app.api.errors import ERROR_RESPONSES, InvalidField, NotLoaded
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
        "summary": "With dates: the answer carries the forecast's business days",
        "value": {
            "prices": _WALK,
            "horizon": 3,
            "interval": 0.9,
            "dates": [str(d) for d in np.busday_offset("2024-01-02", np.arange(70), roll="forward")],
        },
    },
}


LAST_DATE = np.datetime64(date.max, "D")  # 9999-12-31: no later date can be written in an answer


def forecast_dates(last: date, horizon: int) -> np.ndarray:
    """The ``horizon`` business days (Mon-Fri) after ``last``: datetime64[D], shape (horizon,)."""
    return np.busday_offset(np.datetime64(last, "D"), np.arange(1, horizon + 1), roll="backward")


def check_dates(dates: list[date], horizon: int, loc: tuple) -> None:
    """The forecast's dates must end by 9999-12-31 (the answer could not hold later ones)."""
    if forecast_dates(dates[-1], horizon)[-1] > LAST_DATE:
        latest = np.busday_offset(LAST_DATE, -horizon, roll="backward")
        raise InvalidField(
            (*loc, "dates"),
            f"must end by {latest} for horizon {horizon}, so that the forecast's business days stay "
            f"within {LAST_DATE} (got {dates[-1]}; a weekend counts as the Friday before)",
        )


def pick_forecaster(registry: ModelRegistry) -> StockForecaster:
    if not registry.forecasters:
        raise NotLoaded("no forecaster is loaded; see /readyz")
    return registry.forecasters[sorted(registry.forecasters)[0]]


def check(request: ForecastRequest, model: StockForecaster, loc: tuple) -> ForecastKey:
    """Raises InvalidField naming the rule a request breaks; else its batch key, whose interval
    is the served level the request asked for."""
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
    if request.dates:
        check_dates(request.dates, request.horizon, loc)
    return ForecastKey(request.horizon, level)


def to_response(request: ForecastRequest, result: Forecast, model: StockForecaster) -> ForecastResponse:
    checkpoint = loaded_checkpoint(model.checkpoint)
    dates = None
    if request.dates:
        dates = [d.item() for d in forecast_dates(request.dates[-1], request.horizon)]
    return ForecastResponse(
        forecast=result.forecast,
        lower=result.lower,
        upper=result.upper,
        interval=result.interval,
        attention=result.attention,
        window=model.config.lookback,
        baseline=Baseline(naive=result.naive),
        dates=dates,
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
    key = check(request, model, ("body",))
    [result] = await registry.forecast(model, [(key, np.asarray(request.prices))])
    return to_response(request, result, model)


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
    keys = [check(item, model, ("body", "series", i)) for i, item in enumerate(request.series)]
    # the model's batcher groups the series by key: one model call per (horizon, interval)
    results = await registry.forecast(
        model, [(key, np.asarray(item.prices)) for key, item in zip(keys, request.series)]
    )
    return ForecastBatchResponse(
        results=[to_response(item, result, model) for item, result in zip(request.series, results)]
    )
