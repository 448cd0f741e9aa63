"""SentencePiece tokenizer wrapper: text <-> pieces <-> ids.

Reserved ids are fixed by ``training`` when it trains the model: pad 0, unk 1, bos 2, eos 3.
"""

from __future__ import annotations

import re

import sentencepiece as spm

from models.text.marks import MARKS

_PRONOUN_I = re.compile(r"(?<![\w'])i(?=$|[\s'.,!?;:])")


class Tokenizer:
    def __init__(self, model_proto: bytes):
        self.proto = model_proto
        self.sp = spm.SentencePieceProcessor()
        self.sp.LoadFromSerializedProto(model_proto)
        self.pad_id, self.unk_id = self.sp.pad_id(), self.sp.unk_id()
        self.bos_id, self.eos_id = self.sp.bos_id(), self.sp.eos_id()
        self.special_ids = (self.pad_id, self.unk_id, self.bos_id, self.eos_id)

    @classmethod
    def from_file(cls, path: str) -> Tokenizer:
        with open(path, "rb") as handle:
            return cls(handle.read())

    def __len__(self) -> int:
        return self.sp.get_piece_size()

    def word_starts(self) -> list[bool]:
        """Per id: does the piece start a word ('▁...')."""
        return [self.sp.IdToPiece(i).startswith("▁") for i in range(len(self))]

    def byte_id_range(self) -> tuple[int, int]:
        """[low, high) of the byte-fallback pieces (<0x00>..<0xFF>), contiguous in SentencePiece."""
        ids = [i for i in range(len(self)) if self.sp.IsByte(i)]
        if not ids or ids[-1] - ids[0] + 1 != len(ids):
            raise ValueError("the vocabulary has no contiguous byte-fallback pieces")
        return ids[0], ids[-1] + 1

    def encode(self, text: str, sample_alpha: float | None = None) -> list[int]:
        """Ids with the end-of-sentence id appended. ``sample_alpha``: draw one segmentation
        from the unigram lattice (subword regularisation, training only) instead of the best."""
        ids: list[int]
        if sample_alpha:
            ids = self.sp.encode(text, enable_sampling=True, alpha=sample_alpha, nbest_size=-1)
        else:
            ids = self.sp.encode(text)
        return ids + [self.eos_id]

    def pieces(self, ids: list[int]) -> list[str]:
        return [self.sp.id_to_piece(i) for i in ids]

    def decode(self, ids: list[int]) -> str:
        """Ids -> text. A run of byte pieces that is not whole UTF-8 (a model can emit the first
        bytes of a character and stop) loses its broken bytes instead of decoding to U+FFFD."""
        kept = [i for i in ids if i not in (self.pad_id, self.bos_id, self.eos_id)]
        text: str = self.sp.decode(self._whole_characters(kept))
        return text

    def _whole_characters(self, ids: list[int]) -> list[int]:
        out: list[int] = []
        run: list[int] = []
        for i in [*ids, None]:
            if i is not None and self.sp.IsByte(i):
                run.append(i)
                continue
            if run:
                raw = bytes(int(self.sp.IdToPiece(b)[1:-1], 16) for b in run)
                whole = raw.decode("utf-8", errors="ignore").encode("utf-8")
                out.extend(self.sp.PieceToId(f"<0x{b:02X}>") for b in whole)
                run = []
            if i is not None:
                out.append(i)
        return out


def normalize_casing(text: str) -> str:
    """Undo the two casing habits the training text never shows: a sentence typed in capitals
    (four or more cased letters and no lower-case one) becomes sentence case, with the English
    pronoun "I" restored; and a sentence that starts in lower case gets its capital back.
    Everything else, names included, is left as it was typed.
    A placeholder mark (``models.text.marks``) before the first letter stands for a word already
    written: the letter after it keeps its case.
    """
    letters = [c for c in text if c.isalpha() and c.lower() != c.upper()]
    if len(letters) >= 4 and all(c.isupper() for c in letters):
        text = _PRONOUN_I.sub("I", text.lower())
    for i, char in enumerate(text):
        if char in MARKS:
            return text
        if char.isalpha():
            return text[:i] + char.upper() + text[i + 1 :] if char.islower() else text
    return text


# control characters (C0, DEL, C1) that are not whitespace: read as a space, never as text
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
_CONTROL_BUT_MARKS = re.compile(r"[\x00\x0e-\x1b\x7f-\x84\x86-\x9f]")


def normalize_input(text: str, marks: bool = False) -> str:
    """What every source goes through before the tokenizer, in training and in serving: control
    characters and runs of any Unicode whitespace (tabs, NBSP) become one space, ends stripped,
    casing normalised. ``marks``: the placeholder marks (``models.text.marks``, control
    characters U+0001..U+0008) that the text pipeline put in are kept."""
    control = _CONTROL_BUT_MARKS if marks else _CONTROL
    return normalize_casing(" ".join(control.sub(" ", text).split()))
