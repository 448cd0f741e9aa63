"""attnserve on Ray Serve: the same FastAPI app (every route and the page) behind Ray Serve's
FastAPI ingress, one app per replica.

    serve run deploy/ray/serve.yaml          # or `make serve-ray`; `serve deploy` for a running cluster

Each replica builds its own app (``create_app``) when it starts, so it loads the models once in the
app's lifespan (Ray Serve runs ASGI lifespans) and runs its own fair scheduler and document-job
worker; replicas share document jobs through PostgreSQL (``ATTNSERVE_DATABASE_URL``). Replica
count, CPUs, torch threads (``ATTNSERVE_TORCH_THREADS`` in the runtime environment), autoscaling
and graceful shutdown are the config file's. Ray is the optional ``ray`` extra.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from ray import serve

from app.main import create_app


def build() -> FastAPI:
    """The replica's app, built in the replica (the settings are its environment's)."""
    return create_app()


class Replica:
    """One replica: the FastAPI app, nothing more (every request goes to its routes)."""


# defaults; the config file's deployment options replace them
deployment: Any = serve.deployment(name="attnserve", ray_actor_options={"num_cpus": 1}, graceful_shutdown_timeout_s=30)(
    serve.ingress(build)(Replica)
)
app = deployment.bind()
