"""JSON request bodies read strictly: a body that cannot be taken as meant is a 400 naming the
cause and where it is, never a guess.

FastAPI reads a JSON body with ``json.loads``: a key given twice keeps its last value (one of two
different texts is dropped without a word), and bytes that are not UTF-8 or nesting deeper than
Python's recursion limit give a bare "There was an error parsing the body". ``StrictJSONRoute``
(the routers' ``route_class``) reads the body with ``read_json`` instead, which raises
``json.JSONDecodeError`` (FastAPI's 400 path, ``app.api.errors``: "body: not valid JSON (<cause> at
character N)") for:

- bytes that are not UTF-8: which byte, at which byte offset;
- a key given twice in one object: the key, at its second occurrence;
- nesting too deep to read: the character where it passes ``MAX_DEPTH``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

MAX_DEPTH = 64
"""Nesting reported for a body too deep for the parser (every route's body is 3 levels deep at most)."""

_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _second_key(text: str, key: str) -> int:
    """Character offset of ``key``'s second occurrence as an object key (0 when spelled otherwise)."""
    found = [m.start() for m in re.finditer(re.escape(json.dumps(key)) + r"\s*:", text)]
    return found[1] if len(found) > 1 else 0


def _too_deep(text: str) -> int:
    """Character offset where nesting first passes ``MAX_DEPTH`` (strings skipped), else 0."""
    depth = 0
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return match.start()
        elif token in "]}":
            depth -= 1
    return 0


def read_json(body: bytes) -> Any:
    """``body`` parsed as JSON; ``json.JSONDecodeError`` naming the cause and its character."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = len(body[: exc.start].decode("utf-8"))
        cause = f"not UTF-8: byte 0x{body[exc.start]:02x} (byte {exc.start}), {exc.reason}"
        raise json.JSONDecodeError(cause, body.decode("utf-8", "replace"), where) from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        cause = f"key {json.dumps(exc.key)[:80]} given twice in one object"
        raise json.JSONDecodeError(cause, text, _second_key(text, exc.key)) from None
    except RecursionError:
        cause = f"nested more than {MAX_DEPTH} levels deep"
        raise json.JSONDecodeError(cause, text, _too_deep(text)) from None


class StrictJSONRequest(Request):
    """A request whose ``json()`` is ``read_json`` of its body."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = read_json(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """An ``APIRoute`` whose endpoint reads JSON bodies with ``read_json``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict
