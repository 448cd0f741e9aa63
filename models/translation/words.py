"""Attention between words instead of subword pieces, for people to read.

Pieces are grouped into words: a word starts at a piece that begins with "▁" (SentencePiece's
word boundary), and every special piece (a language token such as <2fr>, </s>, a placeholder
<0x01>..<0x08>) and every run of punctuation pieces is a word of its own -- except an apostrophe
or a hyphen inside a word, which joins its neighbours ("m'envoyer", "Pourriez-vous"). Then

- a target word's row is the **mean** of its pieces' rows (each piece's row sums to 1, so the
  word's does: it says where the word as a whole looked);
- a source word's column is the **sum** of its pieces' columns (the attention a word received is
  all the attention its pieces received).

Rows still sum to 1: row_w = mean over the word's pieces of the sum over all source pieces.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from models.served import rounded_rows

SPECIAL = re.compile(r"<2[a-z]{2,3}>|</s>|<s>|<pad>|<unk>|<0x0[1-8]>")
BYTE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def is_punctuation(piece: str) -> bool:
    text = piece.replace("▁", "")
    return bool(text) and all(unicodedata.category(c)[0] in "PS" for c in text)


JOINERS = frozenset("'’-")


def group(pieces: list[str]) -> list[int]:
    """The word index of each piece (module docstring)."""
    index: list[int] = []
    word, previous, joined = -1, "", False
    for piece in pieces:
        joiner = piece in JOINERS and word >= 0 and not is_punctuation(previous) and not SPECIAL.fullmatch(previous)
        starts = not joiner and (
            word < 0
            or piece.startswith("▁")
            or SPECIAL.fullmatch(piece) is not None
            or SPECIAL.fullmatch(previous) is not None
            or (is_punctuation(piece) != is_punctuation(previous) and not joined)
        )
        word += starts
        index.append(word)
        previous, joined = piece, joiner
    return index


def spell(pieces: list[str]) -> str:
    """A word's label from its pieces: "▁Sa" "ra" "h" -> "Sarah"; byte pieces decoded as UTF-8."""
    if len(pieces) == 1 and SPECIAL.fullmatch(pieces[0]):
        return pieces[0]
    out, pending = "", b""
    for piece in pieces:
        match = BYTE.fullmatch(piece)
        if match:
            pending += bytes([int(match.group(1), 16)])
            continue
        out += pending.decode("utf-8", errors="replace") + piece.replace("▁", " ")
        pending = b""
    return (out + pending.decode("utf-8", errors="replace")).strip() or pieces[0]


@dataclass(frozen=True)
class WordAttention:
    source: list[str]  # source words
    target: list[str]  # target words
    attention: list[list[float]]  # len(target) x len(source); each row sums to 1
    source_index: list[int]  # for each source piece, its word
    target_index: list[int]  # for each target piece, its word


def word_attention(source_tokens: list[str], target_tokens: list[str], attention: list[list[float]]) -> WordAttention:
    """(T pieces x S pieces) attention -> (T' words x S' words): rows averaged over a target word's
    pieces, columns summed over a source word's pieces."""
    source_index, target_index = group(source_tokens), group(target_tokens)
    n_source, n_target = (max(i, default=-1) + 1 for i in (source_index, target_index))
    matrix = np.asarray(attention, dtype=np.float64).reshape(len(target_tokens), len(source_tokens))
    columns = np.zeros((len(source_tokens), n_source))
    columns[np.arange(len(source_tokens)), source_index] = 1.0
    rows = np.zeros((n_target, len(target_tokens)))
    rows[target_index, np.arange(len(target_tokens))] = 1.0
    rows /= np.maximum(rows.sum(axis=1, keepdims=True), 1.0)
    words = rows @ matrix @ columns

    def spelled(tokens: list[str], index: list[int], n: int) -> list[str]:
        return [spell([t for t, i in zip(tokens, index) if i == w]) for w in range(n)]

    return WordAttention(
        source=spelled(source_tokens, source_index, n_source),
        target=spelled(target_tokens, target_index, n_target),
        attention=rounded_rows(words) if words.size else [],
        source_index=source_index,
        target_index=target_index,
    )
