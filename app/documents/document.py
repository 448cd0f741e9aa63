"""What every file format turns into, and back: a document is a list of ``Block``s (a paragraph, a
heading, a table cell, a subtitle cue: plain text plus the inline tags over it), and it renders
itself from the blocks' translations (``TranslatedBlock``: the text translated, each tag placed over
the words it covered by attention, ``models.text.tags``).

A format module exposes one ``Format``; ``read`` parses bytes into a ``Document`` or raises
``DocumentError`` (a 4xx naming the rule that broke)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field


class DocumentError(Exception):
    """A file that cannot be translated as sent: ``status`` 413 (too large once unpacked), 415 (not
    the type it claims or not one served) or 422 (its content breaks a rule); ``message`` says which."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Tag:
    """Inline markup over the characters ``start``..``end`` of a block's text (end exclusive).

    ``ref``: the format's own handle on the markup (an index into its table of runs, elements,
    emphasis markers...), handed back unchanged on the translated tag. ``keep``: the span passes
    through untranslated (a code span, an element marked translate="no"): its text is carried to
    the translation as it is. Tags of a block are properly nested (two tags are disjoint or one
    holds the other), sorted by start, an outer tag before the tags it holds."""

    start: int
    end: int
    ref: int
    keep: bool = False


@dataclass
class Block:
    """One unit of a document that is translated as a whole: ``text`` (not blank) and its ``tags``."""

    text: str
    tags: list[Tag] = field(default_factory=list)


@dataclass
class TranslatedBlock:
    """A block's translation: ``text`` and every one of the block's tags (same ``ref``s, none
    dropped, none duplicated) over the characters of ``text`` it now covers, still nested."""

    text: str
    tags: list[Tag] = field(default_factory=list)


class Document(ABC):
    """A parsed file: its ``blocks`` in reading order, and everything else it holds kept as read."""

    blocks: list[Block]

    @abstractmethod
    def render(self, translated: list[TranslatedBlock]) -> bytes:
        """The file again, in its format, with block i's text and tags replaced by ``translated[i]``
        (one per block, in order) and nothing else changed."""


@dataclass(frozen=True)
class Limits:
    """What a file may hold: ``max_unpacked_bytes`` of content once decompressed (a .docx is a zip: a
    zip bomb is refused before it is inflated) and ``max_blocks`` blocks."""

    max_unpacked_bytes: int = 50_000_000
    max_blocks: int = 20_000


@dataclass(frozen=True)
class Format:
    """A served file format: its ``name`` (the request's format field for snippets, and the suffix
    of the answer's file name), the file ``extensions`` it is recognised by, the ``media_type`` of
    the answer, and ``read``."""

    name: str
    extensions: tuple[str, ...]
    media_type: str
    read: Callable[[bytes, Limits], Document]
