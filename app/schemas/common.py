"""Pieces shared by every resource's schemas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictStr, ValidationError, WrapValidator
from pydantic_core import PydanticCustomError

# hard ceilings of the batch lists: pydantic refuses a longer list before it reads an item; the
# settings (ATTNSERVE_MAX_BATCH_TEXTS / _SERIES, at most these) give their own 422 below them
MAX_BATCH_TEXTS = 4096
MAX_BATCH_SERIES = 4096
ITEM_ERRORS = 5  # a list's invalid items listed before its validation stops (the rest are counted)


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


def _stopped(exc: ValidationError, shown: list, rest: int, index: int) -> ValidationError:
    """``exc``'s errors ``shown`` (their locations within the list) and one more counting the ``rest``."""
    details: list[Any] = [
        {"type": PydanticCustomError(e["type"], e["msg"], e.get("ctx")), "loc": e["loc"], "input": e["input"]}
        for e in shown
    ]
    details.append(
        {
            "type": PydanticCustomError(
                "too_many_errors",
                "{rest} more invalid items not listed (validation stopped at item {index})",
                {"rest": rest, "index": index},
            ),
            "loc": (),
            "input": None,
        }
    )
    return ValidationError.from_exception_data(exc.title, details)


def first_errors(looks_valid: Callable[[Any], bool], max_items: int) -> WrapValidator:
    """Validation of a list that stops after ``ITEM_ERRORS`` invalid items: ``looks_valid`` (a fast
    check, the item rule or close to it) finds them, pydantic validates the list up to the last of
    them, and one more error counts the rest. 10,000 invalid prices give 6 errors, not 10,000."""

    def validate(value: Any, handler: Callable[[Any], Any]) -> Any:
        if not isinstance(value, list) or len(value) > max_items:
            return handler(value)  # not a list, or too long: one error before any item is read
        bad = [i for i, item in enumerate(value) if not looks_valid(item)]
        if len(bad) <= ITEM_ERRORS:
            return handler(value)
        stop = bad[ITEM_ERRORS - 1]
        try:
            handler(value[: stop + 1])
        except ValidationError as exc:
            raise _stopped(exc, exc.errors(), len(bad) - ITEM_ERRORS, stop) from None
        return handler(value)  # the fast check was wrong about these items: the whole list decides

    return WrapValidator(validate)


def _few_errors(value: Any, handler: Callable[[Any], Any]) -> Any:
    try:
        return handler(value)
    except ValidationError as exc:
        if not isinstance(value, list) or exc.error_count() <= 4 * ITEM_ERRORS:
            raise
        first = exc
    # many errors: those of the first ITEM_ERRORS invalid items, then a count of the other invalid items
    errors: list[Any] = []
    invalid: list[int] = []
    if first.error_count() <= 100 * MAX_BATCH_SERIES:  # cheap enough to read
        errors = list(first.errors())
        if any(not e["loc"] or not isinstance(e["loc"][0], int) for e in errors):
            raise first  # an error of the list itself
        invalid = sorted({e["loc"][0] for e in errors})
    else:  # each item alone: no error list is ever read whole
        for i, item in enumerate(value):
            try:
                handler([item])
            except ValidationError as one:
                invalid.append(i)
                if len(invalid) <= ITEM_ERRORS:
                    errors += [e | {"loc": (i, *e["loc"][1:])} for e in one.errors()]
    if len(invalid) <= ITEM_ERRORS:
        raise first
    stop = invalid[ITEM_ERRORS - 1]
    shown = [e for e in errors if e["loc"][0] <= stop]
    raise _stopped(first, shown, len(invalid) - ITEM_ERRORS, stop)


# on a list of objects or texts: at most the errors of its first ITEM_ERRORS invalid items
FewErrors = WrapValidator(_few_errors)


class ModelRef(BaseModel):
    id: str
    sha256: str


class Message(BaseModel):
    """Every error answer: a one-line ``message`` naming field and rule, and the details."""

    message: str
    detail: Any = None
