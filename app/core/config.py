"""The service's one settings class; every field is read from ``ATTNSERVE_<NAME>``."""

from __future__ import annotations

import ipaddress
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.schemas.common import MAX_BATCH_SERIES, MAX_BATCH_TEXTS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ATTNSERVE_", extra="ignore")

    checkpoint_dir: Path = Field(Path("checkpoints"), description="folder holding checkpoint folders")
    trained_dir: Path | None = Field(
        None,
        description="folder searched before checkpoint_dir: a checkpoint folder there replaces the shipped one "
        "of the same name (the container mounts its volume of trained models here, so a new image's shipped "
        "checkpoints are never hidden by an old volume)",
    )
    models: Annotated[list[str], NoDecode] = Field(
        ["translator-en-fr", "translator-multi", "forecaster-sp500"],
        description="checkpoint folders (under trained_dir, else checkpoint_dir) to load; comma-separated in the env",
    )
    default_source_lang: str = Field(
        "en",
        min_length=1,
        description="/translate's source language when neither source_lang nor target_lang is given; a "
        "source_lang given without target_lang is translated into this language, this language itself into "
        "default_target_lang",
    )
    default_target_lang: str = Field(
        "fr", min_length=1, description="/translate's target language when neither language is given"
    )
    pivot_lang: str = Field(
        "en",
        description="a pair no model serves whose two legs through this language are served is translated "
        "through it (de->fr as de->en, then en->fr); empty: no pivoting",
    )
    detect_min_confidence: float = Field(
        0.9,
        ge=0,
        le=1,
        description="a detected source language below this confidence is still used, with a warning in the "
        "answer (and the 422s for a detected language that cannot be translated into the target are not given)",
    )
    unserved_warn_confidence: float = Field(
        0.7,
        ge=0,
        le=1,
        description="a text detected (source_lang omitted or 'auto') as a language that is not served, with at "
        "least this confidence among every language the identifier knows, is translated with a warning (from "
        "detect_min_confidence on, a 422); at 0.7 no warning was given for 12,000 held-out en/fr/de/es test "
        "sentences (docs/api.md)",
    )
    max_text_chars: int = Field(
        5000,
        ge=1,
        description="longest text accepted by /translate (with two clients sending 5,000-character paragraphs "
        "back to back, short requests kept a p95 of 222 ms: bench.fairness --scenarios paragraphs5000)",
    )
    max_glossary_terms: int = Field(
        100, ge=0, description="most terms one request's glossary may hold (0: glossaries refused)"
    )
    max_glossary_term_chars: int = Field(100, ge=1, description="longest glossary term or target term, in characters")
    max_batch_texts: int = Field(
        64, ge=1, le=MAX_BATCH_TEXTS, description=f"most texts in one /translate/batch (at most {MAX_BATCH_TEXTS})"
    )
    max_batch_series: int = Field(
        256, ge=1, le=MAX_BATCH_SERIES, description=f"most series in one /forecast/batch (at most {MAX_BATCH_SERIES})"
    )
    max_body_bytes: int = Field(1 << 20, ge=1, description="largest request body (413 above)")
    # documents (POST /translate/file) and their jobs
    data_dir: Path = Field(Path("data"), description="folder for the service's own files: the SQLite job store")
    database_url: str | None = Field(
        None,
        description="job store: postgresql://user:pass@host/db when several replicas share one; "
        "default sqlite:///<data_dir>/jobs.db",
    )
    max_file_blocks: int = Field(20_000, ge=1, description="most blocks (paragraphs, cells, cues) one file may hold")
    max_unpacked_bytes: int = Field(
        50_000_000, ge=1, description="largest content of a .docx once unzipped (a zip bomb is refused before)"
    )
    job_expiry_s: float = Field(86_400, gt=0, description="finished jobs and their files are removed after this long")
    job_lease_s: float = Field(
        60, gt=0, description="a job whose worker has not stored a round for this long is resumed by another worker"
    )
    job_poll_s: float = Field(1.0, gt=0, description="how often an idle worker looks for a queued job")
    max_upload_bytes: int = Field(
        32 << 20,
        ge=1,
        description="largest upload to POST /forecast/csv, multipart framing included (413 above); its default "
        "takes the whole Kaggle S&P 500 file (27 MB)",
    )
    max_concurrent_uploads: int = Field(
        2,
        ge=1,
        description="POST /forecast/csv requests handled at once (each holds its file in memory, up to "
        "max_upload_bytes); one more is answered 503 + Retry-After before its body is read",
    )
    upload_workers: int = Field(
        1,
        ge=1,
        description="processes reading uploaded price files (POST /forecast/csv), apart from the server's "
        "interpreter, so that reading a big file never holds up the model scheduler",
    )
    batch_max_size: int = Field(32, ge=1, description="most items (texts, series) in one model call; 1 = no batching")
    batch_max_rows: int = Field(
        64,
        ge=1,
        description="most decoder rows (texts x beam_size) in one translation call; a bigger request is split "
        "into chunks that take turns with other requests",
    )
    round_max_rows: int = Field(
        128,
        ge=1,
        description="decoder rows advanced by one decoding step per scheduling round, least-served requests "
        "first: what a short request shares the model with while heavy ones run",
    )
    batch_join_steps: int = Field(
        32,
        ge=0,
        description="new texts wait for a running call with the same decoding options when it will end within "
        "this many steps, then share one call (dynamic batching); 0 = every request starts its own call",
    )
    max_request_cost: int = Field(
        32768,
        ge=1,
        description="most decoding work one translate request may ask for: the sum over its texts of "
        "beam_size x output-token limit (max_length, else 2 x source pieces + 10, at most 256) x "
        "(1 + source pieces / 64); 422 above (the slowest request the default lets through took 2.8 s alone "
        "on 2 cores: python -m bench.cost_cap)",
    )
    max_answer_weights: int = Field(
        1_048_576,
        ge=1,
        description="most attention weights one translate answer may carry: the sum over its texts of "
        "output-token limit x source pieces x (1 + alternatives) per sentence, twice for a one-sentence text (its "
        "top-level fields repeat its segment); 422 above (about 7 bytes of JSON each)",
    )
    batch_max_wait_ms: float = Field(
        0.0, ge=0, description="how long a batch waits to fill; 0 = take what queued while the model was busy"
    )
    queue_max: int = Field(
        1024, ge=1, description="unanswered items (texts, series) per model before 503 + Retry-After"
    )
    request_timeout_s: float = Field(30.0, gt=0, description="inference time limit per request (503 after)")
    weights: Literal["int8", "float32"] = Field(
        "int8",
        description="how translators' weights are served: int8 (their decoder's linear and recurrent layers "
        "quantized on fixed ranges: 2-3x faster decoding on a CPU at equal BLEU, each answer the same whatever "
        "shares its batch; docs/results/serving.md) or float32 as trained. Forecasters stay float32; where torch "
        "cannot quantize, float32 (GET /models says which)",
    )
    torch_threads: int | None = Field(
        None,
        ge=1,
        description="torch intra-op threads per process (default: the usable cores "
        "divided by the uvicorn workers, WEB_CONCURRENCY, less one, at least 1)",
    )
    workers: int = Field(
        1,
        ge=1,
        validation_alias="WEB_CONCURRENCY",
        description="uvicorn worker processes sharing this machine (uvicorn reads "
        "WEB_CONCURRENCY as its --workers default)",
    )
    body_drain_bytes: int = Field(
        16 << 20,
        ge=0,
        description="bytes of an over-limit body read and discarded before the 413, so clients that send "
        "their whole body before reading (urllib) get the answer instead of a reset; 0 = answer at once",
    )
    # ---- connections (python -m app.serve hands these to uvicorn) -----------------------------------
    body_timeout_s: float = Field(
        10.0,
        gt=0,
        description="seconds a request body may go without a byte arriving: then 408 and the connection "
        "is closed (an over-limit body being drained: the 413, closed)",
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="seconds a connection may take to send a request's headers, from its first byte (from "
        "the connection's opening for its first request): then closed, with a 408 when some had come",
    )
    keep_alive_s: float = Field(
        5.0, gt=0, description="seconds an idle keep-alive connection is kept open after an answer"
    )
    max_connections: int = Field(
        512,
        ge=0,
        description="open connections (and requests in progress) per worker process; a request on one "
        "more is answered 503 and closed; 0 = no limit",
    )
    shutdown_timeout_s: float = Field(
        5.0,
        ge=0,
        description="on SIGTERM, seconds in-flight requests get to finish before they are cancelled and "
        "the process exits",
    )

    # ---- deploying: all off by default --------------------------------------------------------------
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        [],
        description="API keys (comma-separated in the env); when any key is configured (here or in "
        "api_keys_file), every path outside open_paths needs 'Authorization: Bearer <key>' (401 without)",
    )
    api_keys_file: Path | None = Field(
        None,
        description="a file of API keys as SHA-256 hex digests (sha256sum of the key), one per line; "
        "'#' starts a comment; adds to api_keys",
    )
    open_paths: Annotated[list[str], NoDecode] = Field(
        [
            "/",
            "/static/*",
            "/healthz",
            "/readyz",
            "/metrics",
            "/docs",
            "/docs/*",
            "/redoc",
            "/openapi.json",
            "/static-docs/*",
        ],
        description="paths answered without a key and never rate-limited (comma-separated in the env); "
        "an entry ending in '*' is a prefix",
    )
    rate_limit: float = Field(
        0.0,
        ge=0,
        description="requests per second allowed per API key (per client address when no keys are "
        "configured) on the paths outside open_paths, refilled continuously (token bucket); 0 = off",
    )
    rate_burst: int | None = Field(
        None,
        ge=1,
        description="requests a client may make at once before rate_limit applies (default: rate_limit, at least 1)",
    )
    rate_max_clients: int = Field(
        10000,
        ge=1,
        description="most clients (keys or addresses) whose buckets are kept; the least recently seen "
        "is forgotten beyond it, so clients cycling addresses cannot grow memory",
    )
    auth_failures_per_minute: int = Field(
        10,
        ge=0,
        description="wrong API keys a client address may present per minute (bursts of as many, refilled "
        "continuously) before its requests are answered 429 + Retry-After, right key or not, until its "
        "bucket refills; 0 = never throttled",
    )
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        [],
        description="proxies (addresses or networks, comma-separated in the env; '*' = any) whose "
        "X-Forwarded-For names the client for the rate limits and the access log; empty = the socket's peer "
        "is the client and X-Forwarded-For is ignored (uvicorn runs with --no-proxy-headers)",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        [],
        description="origins allowed to call the API from a browser (comma-separated in the env; '*' = any); "
        "empty = no CORS headers, as without the setting",
    )

    @property
    def burst(self) -> int:
        """The bucket size: the setting, else one second's worth of requests, at least 1."""
        return self.rate_burst or max(1, math.ceil(self.rate_limit))

    @property
    def threads_per_process(self) -> int:
        """torch threads for one worker: the setting, else an equal share of the usable cores less
        one, at least 1: N workers each holding one model copy do not oversubscribe the machine,
        and each worker's event loop (HTTP, JSON, tokenizing) keeps a core that torch's threads do
        not spin on (on 2 cores, 1 thread answers one client faster than 2: docs/results/serving.md)."""
        if self.torch_threads:
            return self.torch_threads
        return max(1, len(os.sched_getaffinity(0)) // self.workers - 1)

    def checkpoint_path(self, name: str) -> Path:
        """Where model ``name`` is read from: ``trained_dir/name`` when that folder exists, else
        ``checkpoint_dir/name``."""
        if self.trained_dir is not None and (self.trained_dir / name).is_dir():
            return self.trained_dir / name
        return self.checkpoint_dir / name

    @field_validator("models", "api_keys", "open_paths", "cors_origins", "forwarded_allow_ips", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry != "*":
                ipaddress.ip_network(entry, strict=False)  # ValueError names the entry
        return value

    @field_validator("open_paths")
    @classmethod
    def _absolute(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path.startswith("/"):
                raise ValueError(f"an open path starts with '/': {path!r}")
        return value

    @property
    def job_store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'jobs.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
