"""API keys (401) and rate limits (429) for deploying; both off by default.

``SecurityMiddleware`` is pure ASGI and sits inside ``ObservabilityMiddleware``, so its answers
carry the request id and are counted under the route they were sent to, and inside
``BodyLimitMiddleware``, so the body has been read (at most ``max_body_bytes``) before a 401 or
429 goes out: a client that sends its whole body before reading still gets the answer. Paths in
``open_paths`` (health, metrics, docs, the page) pass untouched: no key, no limit.

Keys are held only as SHA-256 digests and compared with ``hmac.compare_digest``; no key, right or
wrong, is ever logged or repeated in an answer. Wrong keys are throttled per client address
(``auth_failures_per_minute``): past them, every request from that address is a 429 until its
bucket refills, so a right key cannot be told from a wrong one by guessing faster.

The client address is the socket's peer (uvicorn runs with ``--no-proxy-headers``), unless it is
one of ``forwarded_allow_ips``: then ``X-Forwarded-For`` names it (``TrustedProxies``, applied by
``ObservabilityMiddleware``, the outermost, to ``scope["client"]`` for everything inside).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from starlette.responses import JSONResponse

from app.core.config import Settings

HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
REALM = 'Bearer realm="attnserve"'


def key_digest(key: str) -> bytes:
    """The SHA-256 digest of a key (what ``sha256sum`` prints, as bytes)."""
    return hashlib.sha256(key.encode()).digest()


def read_key_file(path: Path) -> list[bytes]:
    """The digests in a key file: one SHA-256 hex digest per line; '#' starts a comment, blank
    lines are skipped. A line that is not a digest raises ValueError naming the line only (it
    might be a key written there by mistake, which must not reach a log)."""
    digests = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if not HEX_DIGEST.fullmatch(text):
            raise ValueError(f"{path} line {number}: not a SHA-256 hex digest (64 hex characters)")
        digests.append(bytes.fromhex(text))
    return digests


def key_digests(settings: Settings) -> tuple[bytes, ...]:
    """The digests of every configured key: ``api_keys`` and ``api_keys_file`` together."""
    digests = [key_digest(key.get_secret_value()) for key in settings.api_keys]
    if settings.api_keys_file is not None:
        digests += read_key_file(settings.api_keys_file)
    return tuple(dict.fromkeys(digests))


def is_open(path: str, open_paths: Iterable[str]) -> bool:
    """Whether ``path`` is one of ``open_paths`` (an entry ending in '*' is a prefix)."""
    return any(path.startswith(p[:-1]) if p.endswith("*") else path == p for p in open_paths)


class TokenBuckets:
    """One token bucket per client: ``burst`` requests at once, refilled at ``rate`` per second.
    At most ``max_clients`` buckets are kept, the least recently used forgotten first (it starts
    full when its client comes back)."""

    def __init__(self, rate: float, burst: int, max_clients: int, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self.clock = clock
        self._buckets: OrderedDict[object, tuple[float, float]] = OrderedDict()  # client: (tokens, when)

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: object) -> float:
        """Takes one token from ``client``'s bucket: 0.0 when it had one, else the seconds until
        it will have one (nothing is taken then)."""
        now = self.clock()
        tokens, when = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - when) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait

    def wait(self, client: object) -> float:
        """The seconds until ``client``'s bucket holds a token (0.0 when it does); takes nothing."""
        if client not in self._buckets:
            return 0.0
        tokens, when = self._buckets[client]
        tokens = min(float(self.burst), tokens + (self.clock() - when) * self.rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate


def app_settings(scope) -> Settings | None:
    """The settings of the app serving ``scope`` (``app.state.settings``), when it has them."""
    settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
    return settings if isinstance(settings, Settings) else None


def failure_buckets(settings: Settings) -> TokenBuckets | None:
    """One bucket of wrong API keys per client address; None when they are not throttled."""
    if not settings.auth_failures_per_minute:
        return None
    per_minute = settings.auth_failures_per_minute
    return TokenBuckets(per_minute / 60, per_minute, settings.rate_max_clients)


class TrustedProxies:
    """The proxies of ``forwarded_allow_ips``: addresses or networks, '*' for any."""

    def __init__(self, entries: Sequence[str]):
        self.any = "*" in entries
        self.networks = [ipaddress.ip_network(entry, strict=False) for entry in entries if entry != "*"]

    def trusts(self, host: str) -> bool:
        if self.any:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def client(self, scope) -> tuple[str, int] | None:
        """The client of ``scope``: its peer, unless that is a trusted proxy and the request has
        an ``X-Forwarded-For``; then its last address that is no trusted proxy (the first if all are)."""
        peer = scope.get("client")
        if not peer or not (self.any or self.networks) or not self.trusts(peer[0]):
            return peer
        forwarded = [
            _host(part)
            for name, value in scope["headers"]
            if name == b"x-forwarded-for"
            for part in value.decode("latin-1").split(",")
            if part.strip()
        ]
        if not forwarded:
            return peer
        host = next((h for h in reversed(forwarded) if not self.trusts(h)), forwarded[0])
        return (host, 0)


def _host(forwarded: str) -> str:
    """An X-Forwarded-For entry without its port ("[::1]:80", "10.0.0.1:80"), at most 64 characters."""
    text = forwarded.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    return text[:64]


def rate_buckets(settings: Settings) -> TokenBuckets | None:
    """The buckets ``settings`` ask for; None when rate limiting is off."""
    if not settings.rate_limit:
        return None
    return TokenBuckets(settings.rate_limit, settings.burst, settings.rate_max_clients)


def _bearer(headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header; "" for another scheme or no key;
    None when there is no Authorization header."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, key = value.decode("latin-1").strip().partition(" ")
            return key.strip() if scheme.lower() == "bearer" else ""
    return None


class SecurityMiddleware:
    """Outside ``open_paths``: with ``digests``, a request needs ``Authorization: Bearer <key>``
    of a configured key (else 401 with ``WWW-Authenticate``); with ``buckets``, a request takes a
    token of its key's bucket (of its client address' when there are no keys), else 429 with
    ``Retry-After``. Answers are ``{"message", "detail"}`` like every error of the service.

    A client address that presented ``auth_failures_per_minute`` wrong keys is answered 429 until
    its bucket of failures refills (``failures``; by default from the app's settings)."""

    def __init__(
        self,
        app,
        digests: Sequence[bytes],
        open_paths: Sequence[str],
        buckets: TokenBuckets | None,
        failures: TokenBuckets | None = None,
    ):
        self.app = app
        self.digests = tuple(digests)
        self.open_paths = tuple(open_paths)
        self.buckets = buckets
        self.failures = failures
        self._failures_known = failures is not None

    def _failure_buckets(self, scope) -> TokenBuckets | None:
        if not self._failures_known:  # once, from the settings of the app serving the first request
            self.failures = failure_buckets(app_settings(scope) or Settings())
            self._failures_known = True
        return self.failures

    def _match(self, key: str) -> bytes | None:
        """The configured digest ``key`` hashes to, or None; every digest is compared, in constant time."""
        presented, found = key_digest(key), None
        for digest in self.digests:
            if hmac.compare_digest(presented, digest):
                found = digest
        return found

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or is_open(scope["path"], self.open_paths):
            return await self.app(scope, receive, send)
        address = (scope.get("client") or ("-", 0))[0]
        client: object = address
        if self.digests:
            failures = self._failure_buckets(scope)
            if failures is not None and (wait := failures.wait(address)) > 0:
                return await self._too_many_failures(scope, receive, send, failures, wait)
            key = _bearer(scope["headers"])
            digest = self._match(key) if key else None
            if digest is None:
                if key and failures is not None:
                    failures.take(address)
                return await self._unauthorized(scope, receive, send, missing=key is None)
            client = digest
            scope.setdefault("state", {})["key_digest"] = digest.hex()  # whose jobs it sees (app.api.routes.jobs)
        if self.buckets is not None:
            wait = self.buckets.take(client)
            if wait > 0:
                return await self._limited(scope, receive, send, self.buckets, wait)
        await self.app(scope, receive, send)

    async def _unauthorized(self, scope, receive, send, missing: bool) -> None:
        if missing:
            message = "missing API key: send the header 'Authorization: Bearer <key>'"
            challenge = REALM
        else:
            message = "invalid API key: the 'Authorization: Bearer <key>' header holds no configured key"
            challenge = f'{REALM}, error="invalid_token"'
        answer = JSONResponse({"message": message, "detail": message}, 401, {"WWW-Authenticate": challenge})
        await answer(scope, receive, send)

    async def _too_many_failures(self, scope, receive, send, failures: TokenBuckets, wait: float) -> None:
        seconds = max(1, math.ceil(wait))
        message = (
            f"too many wrong API keys from this client address: {failures.burst} per minute "
            f"(ATTNSERVE_AUTH_FAILURES_PER_MINUTE); retry in {seconds} s"
        )
        answer = JSONResponse({"message": message, "detail": message}, 429, {"Retry-After": str(seconds)})
        await answer(scope, receive, send)

    async def _limited(self, scope, receive, send, buckets: TokenBuckets, wait: float) -> None:
        seconds = max(1, math.ceil(wait))
        per = "API key" if self.digests else "client address"
        message = (
            f"rate limit exceeded: {buckets.rate:g} requests per second per {per}, bursts of "
            f"{buckets.burst} (ATTNSERVE_RATE_LIMIT, ATTNSERVE_RATE_BURST); retry in {seconds} s"
        )
        answer = JSONResponse({"message": message, "detail": message}, 429, {"Retry-After": str(seconds)})
        await answer(scope, receive, send)
