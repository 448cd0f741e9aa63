# attnserve: the API with the shipped checkpoints inside.
#   docker build -t attnserve:latest .                       # CPU torch from the PyTorch CPU index
#   docker build --build-arg TORCH_SOURCE=https://download.pytorch.org/whl/cu124 -t attnserve:cuda .
#   podman build --pull=never --build-arg TORCH_SOURCE=/wheels -t attnserve:latest .
#       (a local folder: docker/wheels/ of the build context is copied to /wheels)
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_SOURCE=https://download.pytorch.org/whl/cpu
# The same pin as pyproject.toml's (the one source; tests/test_bench_common.py fails when they differ,
# and docker/container-test.sh passes pyproject's): an ARG default cannot read a file, and torch is
# installed before pyproject.toml is copied in so that editing pyproject does not re-download torch.
ARG TORCH_SPEC=torch==2.13.0
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY docker/wheels/ /wheels/
RUN python -m venv /opt/venv
# torch first, from the chosen source: a local wheel folder (its +cpu wheel outranks the index's
# build of the same version; torch's own dependencies still come from the index) or an index
RUN if [ -d "$TORCH_SOURCE" ]; then \
        /opt/venv/bin/pip install --find-links "$TORCH_SOURCE" "$TORCH_SPEC"; \
    else \
        /opt/venv/bin/pip install --index-url "$TORCH_SOURCE" "$TORCH_SPEC"; \
    fi
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app app
COPY models models
COPY training training
# the service's own dependencies (torch already satisfied) and the PostgreSQL driver replicas use for
# their shared job store (ATTNSERVE_DATABASE_URL); no train/dev extras
RUN /opt/venv/bin/pip install ".[postgres]" && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

FROM build AS train
# the training image for the compose `train` profile: adds the train extra
RUN /opt/venv/bin/pip install ".[train]"
WORKDIR /srv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
CMD ["python", "-m", "training.translation.train", "--help"]

FROM ${PYTHON_IMAGE} AS api
RUN useradd --create-home --uid 10001 attnserve
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv
COPY --chown=attnserve:attnserve checkpoints /srv/checkpoints
# /srv/trained: where compose mounts its volume of trained models, searched before the shipped
# checkpoints (a checkpoint there replaces the shipped one of its name; a new image's shipped
# checkpoints are never hidden by an old volume)
# /srv/data: the document jobs' SQLite store (compose mounts a volume there, so jobs survive a restart)
RUN mkdir /srv/trained /srv/data && chown attnserve:attnserve /srv/trained /srv/data
USER attnserve
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 ATTNSERVE_CHECKPOINT_DIR=/srv/checkpoints \
    ATTNSERVE_TRAINED_DIR=/srv/trained ATTNSERVE_DATA_DIR=/srv/data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
STOPSIGNAL SIGTERM
# app.serve (uvicorn with the connection settings, as `make serve` runs it) is PID 1 and handles SIGTERM:
# in-flight requests get up to ATTNSERVE_SHUTDOWN_TIMEOUT_S (5 s), then it exits. No proxy headers:
# the app decides whose X-Forwarded-For to trust (ATTNSERVE_FORWARDED_ALLOW_IPS)
CMD ["python", "-m", "app.serve", "--host", "0.0.0.0", "--port", "8000"]

# The Ray Serve image (deploy/kuberay/rayservice.yaml): the api image plus the `ray` extra.
#   podman build --target ray -t attnserve-ray:latest .
FROM build AS ray-build
RUN /opt/venv/bin/pip install ".[ray,postgres]"

FROM api AS ray
COPY --from=ray-build /opt/venv /opt/venv
COPY deploy/ray /srv/deploy/ray
ENV RAY_USAGE_STATS_ENABLED=0
CMD ["serve", "run", "deploy/ray/serve.yaml"]
