"""Pieces shared by every resource's schemas."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictStr
from pydantic_core import PydanticCustomError


class Strict(BaseModel):
    """Requests reject unknown fields: nothing a client sent is dropped silently."""

    model_config = ConfigDict(extra="forbid")


def _unicode(value: str) -> str:
    """Refuses lone surrogates (U+D800..U+DFFF): JSON's ``\\ud800`` escape can carry one, but it
    is no character; the tokenizer and the UTF-8 answer could not hold it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PydanticCustomError(
            "string_unicode",
            "must be valid Unicode text: a lone surrogate U+{code} at character {position} "
            "(surrogates only come in pairs)",
            {"code": f"{ord(value[exc.start]):04X}", "position": exc.start},
        ) from None
    return value


# every string field of a request: a JSON string (no number or null) of valid Unicode
Text = Annotated[StrictStr, AfterValidator(_unicode)]


class ModelRef(BaseModel):
    id: str
    sha256: str


class Message(BaseModel):
    """Every error answer: a one-line ``message`` naming field and rule, and the details."""

    message: str
    detail: Any = None
