"""Placeholder marks: what a translator reads and writes in place of a span it must not translate.

A mark is one of the control characters U+0001..U+0008, which the tokenizer spells as one
byte-fallback piece each (``<0x01>``..``<0x08>``, after a bare ``'▁'`` when a space precedes it):
pieces every SentencePiece vocabulary with byte fallback already has, which no text a user sends
can produce (``normalize_input`` turns control characters into spaces). A model trained with
placeholders (``training.translation.augment.with_placeholders``) reads them with their own
embeddings and carries each one into its output, where the text pipeline puts back what it stands
for. A sentence holds at most ``len(MARKS)`` of them, given in order: the first span is U+0001.
"""

from __future__ import annotations

MARKS = "".join(chr(code) for code in range(1, 9))
"""The eight marks, in the order a sentence's spans take them."""

PIECES = tuple(f"<0x{ord(mark):02X}>" for mark in MARKS)
"""The SentencePiece piece of each mark, as source and target tokens show it."""
