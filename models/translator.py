"""A loaded translator: tokenizer + network + search, text in, text and attention out."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from models.checkpoint import Checkpoint, CheckpointError, load_weights, read_checkpoint
from models.search import Hypothesis, beam_search
from models.seq2seq import Seq2Seq, Seq2SeqConfig
from models.tokenizer import Tokenizer


@dataclass
class Translation:
    translation: str
    source_tokens: list[str]
    target_tokens: list[str]
    attention: list[list[float]]  # len(target_tokens) x len(source_tokens)
    score: float                  # log-probability of the output


def pad_batch(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id lists -> ids (B, S) padded with ``pad_id``, lengths (B,)."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    ids = torch.full((len(sequences), int(lengths.max())), pad_id, dtype=torch.long)
    for i, seq in enumerate(sequences):
        ids[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return ids, lengths


class Translator:
    def __init__(self, model: Seq2Seq, tokenizer: Tokenizer, checkpoint: Checkpoint | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.checkpoint = checkpoint
        config = checkpoint.config if checkpoint else {}
        self.source_lang = config.get("source_lang", "src")
        self.target_lang = config.get("target_lang", "tgt")

    @classmethod
    def load(cls, directory: str | Path) -> "Translator":
        checkpoint = read_checkpoint(directory)
        config = checkpoint.config
        if config.get("task") != "translation":
            raise CheckpointError(f"{directory}: task is {config.get('task')!r}, not 'translation'")
        try:
            arch = Seq2SeqConfig.from_dict(config["architecture"])
            vocab_file = config["vocabulary"]["file"]
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{directory}: bad config.json: {exc}") from exc
        if vocab_file not in checkpoint.files:
            raise CheckpointError(f"{directory}: {vocab_file} is not in the manifest")
        tokenizer = Tokenizer.from_file(str(Path(directory) / vocab_file))
        if len(tokenizer) != arch.vocab_size:
            raise CheckpointError(f"{directory}: tokenizer has {len(tokenizer)} pieces, "
                                  f"network expects {arch.vocab_size}")
        model = Seq2Seq(arch)
        load_weights(model, checkpoint.tensors)
        checkpoint.tensors = {}  # the network holds the weights now
        return cls(model, tokenizer, checkpoint)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def is_empty(self, text: str) -> bool:
        """True when the tokenizer keeps nothing of ``text`` (e.g. only zero-width characters)."""
        return len(self.tokenizer.encode(text)) <= 1

    def translate(self, texts: list[str], beam_size: int = 5, max_length: int | None = None,
                  length_penalty: float = 1.0) -> list[Translation]:
        """Translate a batch; every result carries its own attention matrix."""
        encoded = [self.tokenizer.encode(text) for text in texts]
        src, lengths = pad_batch(encoded, self.tokenizer.pad_id)
        hyps = beam_search(self.model, src.to(self.device), lengths.to(self.device),
                           beam_size, max_length, length_penalty)
        return [self._result(ids, hyp) for ids, hyp in zip(encoded, hyps)]

    def _result(self, source_ids: list[int], hyp: Hypothesis) -> Translation:
        target_ids = hyp.tokens + ([self.tokenizer.eos_id] if hyp.ended else [])
        return Translation(
            translation=self.tokenizer.decode(hyp.tokens),
            source_tokens=self.tokenizer.pieces(source_ids),
            target_tokens=self.tokenizer.pieces(target_ids),
            attention=hyp.attention.tolist(),
            score=hyp.score,
        )

