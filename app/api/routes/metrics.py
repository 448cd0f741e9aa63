"""GET /metrics in the Prometheus text format."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics: requests, latency, batch sizes, queue depth, abandoned work",
)
async def metrics(request: Request) -> Response:
    state = request.app.state
    for model_id, scheduler in state.registry.schedulers.items():
        state.metrics.queue_depth.labels(model_id).set(scheduler.depth)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
