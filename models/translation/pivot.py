"""The attention of a translation made in two legs through a pivot language (de -> en -> fr):
the second leg's attention, carried back through the first's, from the target pieces to the
source pieces.

The second leg reads the first leg's output again, tokenized by its own tokenizer, with its own
special pieces (a target-language token first, ``</s>`` last), so its source pieces are not
always the first leg's target pieces. A bridge matrix links them: each piece of the second leg's
source gets the first leg's target pieces its characters overlap, in proportion (pieces that spell
the same text match one to one); a piece with no characters (a lone "▁") goes to the piece it
stands before; the special pieces go to the first leg's ``</s>`` (the row where it looked when it
had finished), or evenly to every piece when the first leg did not end.

    composed = second (T2 x S2) @ bridge (S2 x T1) @ first (T1 x S1)   -> (T2 x S1)

Each factor is row-stochastic, so the product is: every row of the composed matrix sums to 1.
"""

from __future__ import annotations

import re

import numpy as np

from models.served import rounded_rows

SPECIAL = re.compile(r"<2[a-z]{2,3}>|</s>|<s>|<pad>")
BYTE = re.compile(r"<0x[0-9A-Fa-f]{2}>")


def surface(piece: str) -> str:
    """What a piece spells, spaces left out: "▁chat" -> "chat", "<0x01>" -> one character."""
    if BYTE.fullmatch(piece):
        return "\x00"
    return piece.replace("▁", "").replace(" ", "")


def _spans(pieces: list[str]) -> list[tuple[int, int] | None]:
    """Each piece's character span in the pieces' spelling (spaces left out); None for a special piece."""
    spans: list[tuple[int, int] | None] = []
    at = 0
    for piece in pieces:
        if SPECIAL.fullmatch(piece):
            spans.append(None)
            continue
        n = len(surface(piece))
        spans.append((at, at + n))
        at += n
    return spans


def bridge(first_target: list[str], second_source: list[str]) -> np.ndarray:
    """(S2, T1): row j spreads the second leg's source piece j over the first leg's target pieces
    it spells (module docstring); every row sums to 1."""
    t1, s2 = len(first_target), len(second_source)
    matrix = np.zeros((s2, t1))
    if not t1:
        return matrix
    left, right = _spans(first_target), _spans(second_source)
    length1 = max((span[1] for span in left if span), default=0)
    length2 = max((span[1] for span in right if span), default=0)
    scale = length1 / length2 if length2 else 0.0  # the spellings differ (normalisation): by position
    end = first_target.index("</s>") if "</s>" in first_target else None
    for j, span in enumerate(right):
        if span is None or not length1:  # a special piece, or nothing spelled: to </s>, else evenly
            if end is None:
                matrix[j] = 1.0 / t1
            else:
                matrix[j, end] = 1.0
            continue
        a, b = span[0] * scale, span[1] * scale
        for i, own in enumerate(left):
            if own is not None:
                matrix[j, i] = max(0.0, min(b, own[1]) - max(a, own[0]))
        if matrix[j].sum() == 0:  # no characters: the piece it stands before
            after = [i for i, own in enumerate(left) if own is not None and own[1] > a]
            near = after[0] if after else max(i for i, own in enumerate(left) if own is not None)
            matrix[j, near] = 1.0
        matrix[j] /= matrix[j].sum()
    return matrix


def compose(
    second: list[list[float]], first_target: list[str], second_source: list[str], first: list[list[float]]
) -> list[list[float]]:
    """The composed attention (T2 x S1) of a second leg's attention (T2 x S2) and the first leg's
    (T1 x S1) through ``bridge``; rows rounded as every served matrix is and summing to 1."""
    if not second or not first:
        return []
    product = np.asarray(second) @ bridge(first_target, second_source) @ np.asarray(first)
    product /= product.sum(axis=1, keepdims=True)
    return rounded_rows(product)
