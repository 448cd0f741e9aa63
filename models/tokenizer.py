"""SentencePiece tokenizer wrapper: text <-> pieces <-> ids.

Reserved ids are fixed by ``training`` when it trains the model: pad 0, unk 1, bos 2, eos 3.
"""
from __future__ import annotations

import sentencepiece as spm

EOS_PIECE = "</s>"


class Tokenizer:
    def __init__(self, model_proto: bytes):
        self.proto = model_proto
        self.sp = spm.SentencePieceProcessor()
        self.sp.LoadFromSerializedProto(model_proto)
        self.pad_id, self.unk_id = self.sp.pad_id(), self.sp.unk_id()
        self.bos_id, self.eos_id = self.sp.bos_id(), self.sp.eos_id()

    @classmethod
    def from_file(cls, path: str) -> "Tokenizer":
        with open(path, "rb") as handle:
            return cls(handle.read())

    def __len__(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        """Ids with the end-of-sentence id appended."""
        return self.sp.encode(text) + [self.eos_id]

    def pieces(self, ids: list[int]) -> list[str]:
        return [self.sp.id_to_piece(i) for i in ids]

    def decode(self, ids: list[int]) -> str:
        return self.sp.decode([i for i in ids if i not in (self.pad_id, self.bos_id, self.eos_id)])
