"""POST /forecast and /forecast/batch."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Body

from app.api.deps import RegistryDep, SettingsDep
from app.api.errors import ERROR_RESPONSES, InvalidField, NotLoaded
from app.api.forecast_rules import Checked, check
from app.core.registry import ModelRegistry
from app.schemas.common import ModelRef
from app.schemas.forecast import (
    Baseline,
    ForecastBatchRequest,
    ForecastBatchResponse,
    ForecastRequest,
    ForecastResponse,
)
from models.calendar import get_calendar
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


def pick_forecaster(registry: ModelRegistry) -> StockForecaster:
    if not registry.forecasters:
        raise NotLoaded("no forecaster is loaded; see /readyz")
    return registry.forecasters[sorted(registry.forecasters)[0]]


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
    [result] = await registry.forecast(model, [(checked.key, checked.bars)])
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
    results = await registry.forecast(model, [(c.key, c.bars) for c in checked])
    return ForecastBatchResponse(results=[to_response(c, result, model) for c, result in zip(checked, results)])
