"""The translator network: one shared embedding, an encoder and an attentional decoder."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from torch import Tensor, nn

from models.schema import parse, rule
from models.translation.attention import ATTENTION_TYPES, Memory
from models.translation.decoder import Decoder
from models.translation.encoder import CELL_TYPES, Encoder

SIZE, ID = rule(ge=1), rule(ge=0)


@dataclass
class Seq2SeqConfig:
    """Architecture (``config.json``'s ``architecture``; its fields are the schema, see
    ``models.schema``). The vocabulary is a joint SentencePiece model, so source and target share
    one embedding table, which the output layer is tied to."""

    vocab_size: int = field(metadata=SIZE)
    pad_id: int = field(default=0, metadata=ID)
    unk_id: int = field(default=1, metadata=ID)
    bos_id: int = field(default=2, metadata=ID)
    eos_id: int = field(default=3, metadata=ID)
    cell: str = "gru"
    attention: str = "bahdanau"
    embed_size: int = field(default=256, metadata=SIZE)
    hidden_size: int = field(default=512, metadata=SIZE)
    attention_size: int = field(default=256, metadata=SIZE)
    encoder_layers: int = field(default=1, metadata=SIZE)
    decoder_layers: int = field(default=1, metadata=SIZE)
    bidirectional: bool = True
    dropout: float = field(default=0.2, metadata=rule(ge=0, lt=1))
    tie_embeddings: bool = True
    copy: bool = False  # pointer-generator: copy source pieces through the attention
    reverse_source: bool = False  # feed the source backwards (Sutskever et al., 2014)
    # Source ids in [lo, hi) that the encoder reads as <unk> (a copying decoder still copies the
    # true piece): the tokenizer's byte-fallback pieces, which spell what the vocabulary lacks.
    unread_ids: tuple[int, int] | None = field(default=None, metadata=rule(items=ID))

    def __post_init__(self) -> None:
        if self.cell not in CELL_TYPES:
            raise ValueError(f"cell must be one of {CELL_TYPES}, got {self.cell!r}")
        if self.attention not in ATTENTION_TYPES:
            raise ValueError(f"attention must be one of {ATTENTION_TYPES}, got {self.attention!r}")
        if self.copy and self.attention == "none":
            raise ValueError("copy needs an attention to copy through; attention is 'none'")
        for name in ("pad_id", "unk_id", "bos_id", "eos_id"):
            if getattr(self, name) >= self.vocab_size:
                raise ValueError(f"{name} {getattr(self, name)} is not below vocab_size {self.vocab_size}")
        if self.unread_ids is not None:
            self.unread_ids = (int(self.unread_ids[0]), int(self.unread_ids[1]))
            if not 0 <= self.unread_ids[0] <= self.unread_ids[1] <= self.vocab_size:
                raise ValueError(
                    f"unread_ids {list(self.unread_ids)} is not a range within the vocabulary (0..{self.vocab_size})"
                )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Seq2SeqConfig:
        """``data`` checked field by field (``models.schema``); ``SchemaError`` names what breaks."""
        return parse(cls, data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def source_order(length: int, reverse: bool) -> list[int]:
    """The positions of a source of ``length`` ids (end-of-sentence last) in the order the
    network reads them: as they are, or reversed with the end-of-sentence id kept last.
    The permutation is its own inverse, so it also maps attention columns back."""
    if not reverse or length < 2:
        return list(range(length))
    return list(range(length - 2, -1, -1)) + [length - 1]


class Seq2Seq(nn.Module):
    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_size, padding_idx=config.pad_id)
        nn.init.normal_(self.embedding.weight, std=config.embed_size**-0.5)
        self.encoder = Encoder(
            config.cell, self.embedding, config.hidden_size, config.encoder_layers, config.bidirectional, config.dropout
        )
        self.decoder = Decoder(
            config.cell,
            self.embedding,
            config.hidden_size,
            config.hidden_size,
            config.attention,
            config.attention_size,
            config.decoder_layers,
            config.dropout,
            config.tie_embeddings,
            config.copy,
            (config.pad_id, config.unk_id, config.bos_id, config.eos_id),
        )

    def encode(self, src: Tensor, src_lengths: Tensor) -> Memory:
        """src (B, S), src_lengths (B,) -> Memory (whose ``ids``, what a copying decoder
        copies, are ``src`` even where the encoder read <unk>)."""
        if self.config.unread_ids is None:
            memory: Memory = self.encoder(src, src_lengths)
            return memory
        low, high = self.config.unread_ids
        read = src.masked_fill((src >= low) & (src < high), self.config.unk_id)
        memory = self.encoder(read, src_lengths)
        return memory._replace(ids=src)

    def forward(
        self,
        src: Tensor,
        src_lengths: Tensor,
        tgt_in: Tensor,
        generator: bool = False,
        copy_ids: Tensor | None = None,
    ) -> tuple[Tensor, ...]:
        """Teacher forcing: src (B, S), src_lengths (B,), tgt_in (B, T) -> log-probabilities
        (B, T, V) float32 and attention (B, T, S); with ``generator`` also the generator's own
        log-probabilities (B, T, V), which differ from the first only when copying.
        ``copy_ids`` (B, S): the pieces a copying decoder copies, when the encoder reads
        others (default: ``src``)."""
        memory = self.encode(src, src_lengths)
        if copy_ids is not None:
            memory = memory._replace(ids=copy_ids)
        log_probs, weights, generated = self.decoder(tgt_in, memory)
        return (log_probs, weights, generated) if generator else (log_probs, weights)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
