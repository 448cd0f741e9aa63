"""Writing a block's text back with its tags' markup around the characters each covers (shared by the
formats whose markup is inline text: SRT's ``<i>``, Markdown's ``*`` and ``[...](...)``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.documents.document import Tag


def _same(text: str) -> str:
    return text


def holds(outer: Tag, inner: Tag) -> bool:
    """Whether ``inner`` (after ``outer`` in a tag list) lies inside ``outer``: within its span, and for an
    empty ``inner`` at ``outer``'s end, only if ``outer`` is empty too and starts there."""
    return inner.end <= outer.end and (inner.start < outer.end or inner.start == outer.start)


def weave(
    text: str,
    tags: Sequence[Tag],
    opening: Callable[[Tag], str],
    closing: Callable[[Tag], str],
    write: Callable[[str], str] = _same,
    kept: Callable[[Tag], str] | None = None,
) -> str:
    """``text`` with ``opening(tag)`` written before the characters each tag covers and ``closing(tag)``
    after them; the characters between tags go through ``write`` (escaping). With ``kept``, a keep tag is
    written as ``kept(tag)`` in place of its characters (its opening and closing are not written).

    Tags are clamped to the text and taken by start, an outer tag (ending later) before the ones it holds,
    ties in list order; a tag that crosses another is written where it can be (no tag is dropped). The
    callbacks get the clamped tag (same ``ref`` and ``keep``)."""
    ordered = sorted(
        (
            Tag(min(max(tag.start, 0), len(text)), min(max(tag.end, tag.start, 0), len(text)), tag.ref, tag.keep)
            for tag in tags
        ),
        key=lambda tag: (tag.start, -tag.end),
    )
    out: list[str] = []
    cursor = 0
    stack: list[Tag] = []

    def advance(to: int) -> None:
        nonlocal cursor
        if to > cursor:
            out.append(write(text[cursor:to]))
            cursor = to

    def close(tag: Tag) -> None:
        advance(tag.end)
        if not (tag.keep and kept is not None):
            out.append(closing(tag))

    for tag in ordered:
        while stack and not holds(stack[-1], tag):
            close(stack.pop())
        advance(tag.start)
        if tag.keep and kept is not None:
            out.append(kept(tag))
            cursor = max(cursor, tag.end)
        else:
            out.append(opening(tag))
        stack.append(tag)
    while stack:
        close(stack.pop())
    advance(len(text))
    return "".join(out)
