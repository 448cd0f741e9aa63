"""Redirects answered with a path, never with the Host a client sent: Starlette's trailing-slash
redirect (``GET /healthz/`` -> ``/healthz``) builds an absolute URL from the request's Host
header, so ``Host: evil.example`` would send the client to ``http://evil.example/healthz``."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RelativeRedirects:
    """Rewrites the ``Location`` of a 3xx answer to its path (and query) when it points at the
    request's own Host, whatever that header said."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")

        async def relative(message: Message) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
                headers = []
                for name, value in message.get("headers", []):
                    if name.lower() == b"location":
                        target = urlsplit(value.decode("latin-1"))
                        if target.netloc and target.netloc == host:
                            value = (target.path or "/").encode("latin-1") + (
                                b"?" + target.query.encode("latin-1") if target.query else b""
                            )
                    headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, relative)
