"""POST /forecast, /forecast/batch and /forecast/csv."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Body, File, HTTPException, Query, Request, UploadFile

from app.api.deps import RegistryDep, SettingsDep
from app.api.errors import ERROR_RESPONSES, InvalidField, NotLoaded
from app.api.forecast_rules import Checked, check, check_options, forecast_dates, off_calendar
from app.api.json_body import StrictJSONRoute
from app.core.registry import ModelRegistry
from app.core.uploads import RETRY_AFTER_S, UploadParser, UploadUnavailable
from app.schemas.common import Message, ModelRef
from app.schemas.forecast import (
    Baseline,
    ForecastBatchRequest,
    ForecastBatchResponse,
    ForecastCsvResponse,
    ForecastRequest,
    ForecastResponse,
    PriceFileRead,
    WidthDay,
    WidthStep,
)
from models.forecasting.calendar import DEFAULT_CALENDAR, get_calendar
from models.forecasting.forecaster import Forecast, StockForecaster
from models.forecasting.price_file import PriceFileError

router = APIRouter(prefix="/forecast", tags=["forecast"], responses=ERROR_RESPONSES, route_class=StrictJSONRoute)
UPLOAD_PATH = "/forecast/csv"  # its body limit is ATTNSERVE_MAX_UPLOAD_BYTES (app.main)

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


TOP_DAYS = 3


def width_steps(result: Forecast, window: int, history_days: int = 0) -> list[WidthStep] | None:
    """Per step, the ``TOP_DAYS`` days carrying the most of the interval's variance (``Forecast.shares``);
    ``history_days``: the days the long-run level is read from (0: a learned constant)."""
    shares, long_run = result.shares, result.long_run or []
    name = f"the long-run level (the series' last {history_days} days)" if history_days else "the long-run level"
    if shares is None:
        return None
    out = []
    for step, row in enumerate(shares, start=1):
        level = round(long_run[step - 1], 4) if long_run else 0.0
        rest = f"; {name} {level:.0%}" if level else ""
        top = sorted(range(len(row)), key=lambda j: -row[j])[:TOP_DAYS]
        days = [WidthDay(day=j - (window - 1), share=round(row[j], 4)) for j in top]
        share = sum(d.share for d in days)
        named = ", ".join(str(d.day) for d in days[:-1]) + f" and {days[-1].day}"
        out.append(
            WidthStep(
                step=step,
                days=days,
                share=round(share, 4),
                uniform_share=round(len(days) / window, 4),
                long_run_share=level,
                summary=f"days {named} carry {share:.0%} of the variance behind the step-{step} interval "
                f"(as many days would carry {len(days) / window:.0%} under uniform weights){rest}",
            )
        )
    return out


def to_response(checked: Checked, result: Forecast, model: StockForecaster) -> ForecastResponse:
    return ForecastResponse(
        forecast=result.forecast,
        lower=result.lower,
        upper=result.upper,
        interval=result.interval,
        attention=result.attention,
        attention_uniformity=result.uniformity,
        window=model.config.lookback,
        width=width_steps(result, model.config.lookback, model.config.history_days),
        baseline=Baseline(naive=result.naive),
        dates=checked.dates,
        calendar=checked.calendar,
        model=ModelRef(id=model.id, sha256=model.sha256),
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
    [result] = await registry.run(model, [(checked.key, checked.bars, 1)])
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
    results = await registry.run(model, [(c.key, c.bars, 1) for c in checked])
    return ForecastBatchResponse(results=[to_response(c, result, model) for c, result in zip(checked, results)])


CSV_FILE = (
    "a daily price CSV: Yahoo (Date,Open,High,Low,Close,Adj Close,Volume) or Kaggle "
    "(date,open,high,low,close,volume,Name); rows in any order, one per date"
)
TICKER = "the ticker to forecast; required for a Kaggle file of several tickers (a Yahoo file: names it)"


CSV_PARAMETERS = ("horizon", "interval", "calendar", "ticker")


async def check_upload_request(request: Request) -> None:
    """A query parameter the route does not take, or a second file part, is a 422 (the one would
    otherwise be ignored and the other replaced without a word)."""
    unknown = sorted(set(request.query_params) - set(CSV_PARAMETERS))
    if unknown:
        raise InvalidField(
            ("query", unknown[0]), f"is not a parameter of /forecast/csv (its parameters: {', '.join(CSV_PARAMETERS)})"
        )
    files = (await request.form()).getlist("file")
    if len(files) > 1:
        raise InvalidField(("body", "file"), f"send one file; the form holds {len(files)} parts named file")


@router.post(
    "/csv",
    response_model=ForecastCsvResponse,
    summary="Forecast from an uploaded price file (Yahoo or Kaggle CSV); answers as /forecast with dates",
    responses={
        413: {"model": Message, "description": "upload over ATTNSERVE_MAX_UPLOAD_BYTES"},
        503: {
            "model": Message,
            "description": "model not loaded, queue full or timed out, or more uploads at once than "
            "ATTNSERVE_MAX_CONCURRENT_UPLOADS (with Retry-After)",
        },
    },
)
async def forecast_csv(
    request: Request,
    file: Annotated[UploadFile, File(description=CSV_FILE)],
    registry: RegistryDep,
    settings: SettingsDep,
    horizon: Annotated[int, Query(ge=1, description="trading days ahead, 1..the trained maximum")] = 5,
    interval: Annotated[float, Query(description="central interval level; one the model serves")] = 0.8,
    calendar: Annotated[str, Query(max_length=100, description="exchange code whose sessions date it")] = (
        DEFAULT_CALENDAR
    ),
    ticker: Annotated[str | None, Query(min_length=1, max_length=100, description=TICKER)] = None,
) -> ForecastCsvResponse:
    await check_upload_request(request)
    model = pick_forecaster(registry)
    key, trading = check_options(horizon, interval, calendar, model, ("query",))
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(413, f"file over the {settings.max_upload_bytes} byte limit (ATTNSERVE_MAX_UPLOAD_BYTES)")
    lookback, days = model.config.lookback, model.config.days_read
    uploads: UploadParser = request.app.state.uploads
    try:
        # in a process of its own: a whole Kaggle file (27 MB) is seconds of Python, which in a thread
        # here held the interpreter the scheduler needs between model steps (issue 25)
        table = await uploads.read(data, keep=days, min_rows=lookback, ticker=ticker, filename=file.filename)
    except PriceFileError as error:
        raise InvalidField(("query", "ticker") if error.where == "ticker" else ("body", "file"), str(error)) from None
    except UploadUnavailable as error:
        raise HTTPException(503, str(error), headers={"Retry-After": str(RETRY_AFTER_S)}) from None
    dates = forecast_dates(trading, table.dates[-1], horizon, ("body", "file"))
    warnings = table.warnings + off_calendar(table.dates, trading, calendar)
    [result] = await registry.run(model, [(key, table.bars, 1)])
    answer = to_response(Checked(key, table.bars, dates, calendar), result, model)
    sent = ["close"] + [name for name in ("open", "high", "low", "volume") if getattr(table.bars, name) is not None]
    read = PriceFileRead(
        layout=table.layout,
        close_column=table.close_column,
        rows=table.rows,
        dates=table.dates,
        close=table.bars.close.tolist(),
        sent=sent,
    )
    return ForecastCsvResponse(**answer.model_dump(), ticker=table.ticker, warnings=warnings, file=read)
