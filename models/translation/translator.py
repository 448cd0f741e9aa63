"""A loaded translator: tokenizer + network + search, text in, text and attention out.

A checkpoint serves one direction (``source_lang`` -> ``target_lang`` in its config) or, when
its config lists ``directions`` (``["fr-en", "en-de", ...]``) and ``language_tokens``
(``{"de": "<2de>", ...}``), several: the source is read after a token naming the language to
write (Johnson et al., 2017), so one network serves every listed direction.

``alternatives=N`` (0 .. beam_size - 1) also returns, per text, up to N next-best finished
hypotheses of the beam with other translations than the best's and each other's, ranked by the
length-normalised score that picked the best (``models.translation.nbest``), each with its own attention.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
from torch import nn

from models.checkpoint import Checkpoint, CheckpointError, fit_network, read_checkpoint, read_config
from models.schema import rule
from models.served import WEIGHT_DECIMALS, Dropped, ServedModel, Steps, rounded_rows
from models.translation.int8 import int8_decoder
from models.translation.nbest import Hypothesis
from models.translation.search import beam_steps, default_max_lengths, run_to_end
from models.translation.seq2seq import Seq2Seq, Seq2SeqConfig, source_order
from models.translation.tokenizer import Tokenizer, normalize_input


@dataclass
class Vocabulary:
    EXTRA: ClassVar[bool] = True  # how the tokenizer was trained (size, normalization): the card's
    file: str = field(metadata=rule(pattern=r"[^/\\]+"))  # a file in the checkpoint folder


@dataclass
class Decoding:
    EXTRA: ClassVar[bool] = True
    no_repeat_ngram: int = field(default=0, metadata=rule(ge=0))


@dataclass
class TranslatorConfig:
    """A translation checkpoint's config.json (its fields are the schema, ``models.schema``);
    other keys (training, metrics) are the card's and ride along."""

    EXTRA: ClassVar[bool] = True
    task: str
    architecture: Seq2SeqConfig
    vocabulary: Vocabulary
    id: str | None = None
    source_lang: str | None = None
    target_lang: str | None = None
    # a multilingual network: "a-b" directions, each target language's control piece
    directions: list[str] | None = field(
        default=None, metadata=rule(min_items=1, items=rule(pattern=r"[a-z]{2,3}-[a-z]{2,3}"))
    )
    language_tokens: dict[str, str] | None = None
    decoding: Decoding | None = None


class TranslateKey(NamedTuple):
    """Decoding options: texts batch together only when all of these are equal."""

    beam_size: int
    max_length: int | None
    target_lang: str | None = None  # the language a multilingual model writes; one direction per call
    alternatives: int = 0  # next-best hypotheses per text, 0 .. beam_size - 1

    @property
    def rows(self) -> int:
        return self.beam_size


@dataclass(frozen=True)
class Source:
    """A text read once for one direction: its source ids in reading order (a multilingual
    network's target token first, end-of-sentence last)."""

    ids: list[int]
    token: bool  # whether ids[0] is a target-language token

    @property
    def readable(self) -> bool:
        """False when the tokenizer kept nothing of the text (e.g. only zero-width characters)."""
        return len(self.ids) - self.token > 1


@dataclass
class Translation:
    translation: str
    source_tokens: list[str]
    target_tokens: list[str]
    attention: list[list[float]]  # len(target_tokens) x len(source_tokens), 4 decimals (``rounded_rows``)
    score: float  # log-probability of the output
    p_gen: list[float] | None = None  # per target token: P(generate) vs copy; None without copying
    alternatives: list[Translation] = field(default_factory=list)  # next-best hypotheses, best first
    ended: bool = True  # False: decoding stopped at its output limit before the end of the sentence


def pad_batch(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id lists -> ids (B, S) padded with ``pad_id``, lengths (B,)."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    ids = torch.full((len(sequences), int(lengths.max())), pad_id, dtype=torch.long)
    for i, seq in enumerate(sequences):
        ids[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return ids, lengths


def config_directions(config: dict[str, Any]) -> list[tuple[str, str]]:
    """The directions a translation config.json serves: its ``directions`` ("a-b"), else its one
    ``source_lang`` -> ``target_lang``."""
    listed = config.get("directions")
    if listed:
        return [(a, b) for a, _, b in (d.partition("-") for d in listed)]
    return [(str(config.get("source_lang", "src")), str(config.get("target_lang", "tgt")))]


class Translator(ServedModel[TranslateKey, Source, Translation]):
    task = "translation"

    def __init__(
        self,
        model: Seq2Seq,
        tokenizer: Tokenizer,
        checkpoint: Checkpoint | None = None,
        config: dict[str, Any] | None = None,
    ):
        """``config``: the checkpoint's config.json contents, for a network not loaded from one
        (training evaluates its model this way); a loaded ``checkpoint`` brings its own."""
        self.model = model.eval()
        self._parameters = sum(p.numel() for p in model.parameters())
        self.tokenizer = tokenizer
        self.checkpoint = checkpoint
        config = checkpoint.config if checkpoint else (config or {})
        self.source_lang: str | None = config.get("source_lang", "src")
        self.target_lang: str | None = config.get("target_lang", "tgt")
        self.target_ids = {
            lang: tokenizer.sp.PieceToId(piece) for lang, piece in (config.get("language_tokens") or {}).items()
        }
        listed = config.get("directions")
        self.directions = config_directions(config)
        if listed:  # a multilingual network: no direction until ``towards`` picks one
            self.source_lang = self.target_lang = None
        # trained to carry placeholder marks (models.text.marks): the text pipeline protects spans
        self.placeholders = bool(config.get("placeholders"))
        decoding = config.get("decoding")
        self.no_repeat_ngram = int(decoding.get("no_repeat_ngram", 0)) if isinstance(decoding, dict) else 0

    @classmethod
    def load(cls, directory: str | Path) -> Translator:
        return cls.from_checkpoint(read_checkpoint(directory))

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint) -> Translator:
        """The translator of a verified checkpoint: config.json checked (``TranslatorConfig``),
        the tokenizer's size and special ids those the network was built with (an end-of-sentence
        id that is not the tokenizer's would stop decoding at an ordinary piece)."""
        directory, config = checkpoint.path, read_config(checkpoint, cls.task, TranslatorConfig)
        arch, vocab_file = config.architecture, config.vocabulary.file
        if vocab_file not in checkpoint.files:
            raise CheckpointError(f"{directory}: {vocab_file} is not in the manifest")
        tokenizer = Tokenizer.from_file(str(Path(directory) / vocab_file))
        if len(tokenizer) != arch.vocab_size:
            raise CheckpointError(
                f"{directory}: tokenizer has {len(tokenizer)} pieces, network expects {arch.vocab_size}"
            )
        wrong = [
            f"{name}_id {getattr(arch, f'{name}_id')} (the tokenizer's is {getattr(tokenizer, f'{name}_id')})"
            for name in ("pad", "unk", "bos", "eos")
            if getattr(arch, f"{name}_id") != getattr(tokenizer, f"{name}_id")
        ]
        if wrong:
            raise CheckpointError(
                f"{directory}: architecture special ids do not match the tokenizer: {', '.join(wrong)}"
            )
        return cls(fit_network(checkpoint, Seq2Seq(arch)), tokenizer, checkpoint)

    @property
    def network(self) -> nn.Module:
        return self.model

    @property
    def parameter_count(self) -> int:
        return self._parameters

    def quantized(self) -> Translator:
        """This translator with an int8 decoder whose answers do not depend on their batch
        (``models.translation.int8``), sharing the tokenizer and checkpoint; itself where int8 is
        not available here."""
        network = int8_decoder(self.model)
        if network is None:
            return self
        view = copy.copy(self)
        view.model, view.weights = network, "int8"
        return view

    def info(self) -> dict[str, Any]:
        """The directions served, and the languages of a single-direction checkpoint."""
        single = None if self.multilingual else {"source": str(self.source_lang), "target": str(self.target_lang)}
        arch = self.model.config
        directions = [f"{s}-{t}" for s, t in self.directions]
        return {"languages": single, "directions": directions, "cell": arch.cell, "attention": arch.attention}

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def multilingual(self) -> bool:
        return bool(self.target_ids)

    def towards(self, source_lang: str, target_lang: str) -> Translator:
        """This translator fixed to one of its ``directions``: a view sharing the network, whose
        ``source_lang``/``target_lang`` name the direction and whose sources get its target token."""
        if (source_lang, target_lang) not in self.directions:
            served = ", ".join(f"{a}->{b}" for a, b in self.directions)
            raise ValueError(f"direction {source_lang}->{target_lang} is not served; directions: {served}")
        view = copy.copy(self)
        view.source_lang, view.target_lang = source_lang, target_lang
        return view

    def read(self, text: str, target_lang: str | None = None, marks: bool = False) -> Source:
        """Text -> its ``Source`` (casing normalised, end-of-sentence appended), after the token
        of ``target_lang`` (default: this view's target) for a multilingual network. ``marks``:
        the text holds placeholder marks the pipeline put in (kept; else read as spaces)."""
        ids = self.tokenizer.encode(normalize_input(text, marks=marks))
        if not self.target_ids:
            return Source(ids, token=False)
        lang = target_lang or self.target_lang
        if lang not in self.target_ids:
            raise ValueError(f"target_lang {lang!r} is not one this model writes: {', '.join(sorted(self.target_ids))}")
        return Source([self.target_ids[lang], *ids], token=True)

    def encode(self, text: str, target_lang: str | None = None) -> list[int]:
        """Text -> source ids in reading order (see ``read``)."""
        return self.read(text, target_lang).ids

    def steps(self, key: TranslateKey, items: list[Source], dropped: Dropped) -> Steps[list[Translation]]:
        """The scheduler's model call: ``items`` (read for ``key.target_lang``) decoded with
        ``key``'s options, one decoding step per ``next()``."""
        return self.decode_steps(
            [source.ids for source in items],
            beam_size=key.beam_size,
            max_length=key.max_length,
            dropped=dropped,
            alternatives=key.alternatives,
        )

    def translate(self, texts: list[str], *args: Any, **options: Any) -> list[Translation]:
        """``translate_steps`` run to its end: the whole batch at once."""
        return run_to_end(self.translate_steps(texts, *args, **options))

    def translate_steps(
        self,
        texts: list[str],
        beam_size: int = 5,
        max_length: int | None = None,
        length_penalty: float = 1.0,
        no_repeat_ngram: int | None = None,
        dropped: Dropped | None = None,
        target_lang: str | None = None,
        alternatives: int = 0,
    ) -> Steps[list[Translation]]:
        """Translate a batch one decoding step at a time: yields between steps, returns one result
        per text. Every result carries its own attention matrix, whose columns follow the source
        in reading order even when the network reads it reversed. ``no_repeat_ngram`` (see
        ``models.translation.search``): None = the checkpoint's ``decoding`` setting. ``dropped(i)`` true:
        nobody waits for ``texts[i]`` any more; it stops decoding and its result is not worth
        reading. ``target_lang``: the language a multilingual network writes (default: this
        view's target). ``alternatives``: at most this many next-best translations per text
        (0 .. beam_size - 1; see the module docstring), else a ValueError."""
        encoded = [self.encode(text, target_lang) for text in texts]
        return self.decode_steps(encoded, beam_size, max_length, length_penalty, no_repeat_ngram, dropped, alternatives)

    def decode_steps(
        self,
        encoded: list[list[int]],
        beam_size: int = 5,
        max_length: int | None = None,
        length_penalty: float = 1.0,
        no_repeat_ngram: int | None = None,
        dropped: Dropped | None = None,
        alternatives: int = 0,
    ) -> Steps[list[Translation]]:
        """``translate_steps`` of texts already read (``encode``): source ids (S_i,) each."""
        if not 0 <= alternatives < beam_size:
            raise ValueError(f"alternatives must be between 0 and beam_size - 1 = {beam_size - 1}, not {alternatives}")
        orders = [source_order(len(ids), self.model.config.reverse_source) for ids in encoded]
        src, lengths = pad_batch(
            [[ids[i] for i in order] for ids, order in zip(encoded, orders)], self.tokenizer.pad_id
        )
        search = beam_steps(
            self.model,
            src.to(self.device),
            lengths.to(self.device),
            beam_size,
            max_length,
            length_penalty,
            self.no_repeat_ngram if no_repeat_ngram is None else no_repeat_ngram,
            dropped,
            n_best=alternatives > 0,
        )
        hyps = yield from search
        return [self._result(ids, order, hyp, alternatives) for ids, order, hyp in zip(encoded, orders, hyps)]

    def output_limit(self, source: Source, max_length: int | None = None) -> int:
        """The most tokens decoding may produce for ``source``: ``max_length``, else the search's
        default for its length (``models.translation.search.default_max_lengths``)."""
        if max_length is not None:
            return max_length
        return int(default_max_lengths(torch.tensor([len(source.ids)]))[0])

    def _result(self, source_ids: list[int], order: list[int], hyp: Hypothesis, alternatives: int) -> Translation:
        """The translation of ``hyp`` with up to ``alternatives`` of its alternatives whose text
        differs from the best's and from each other's (two piece sequences can spell one text)."""
        best = self._translation(source_ids, order, hyp)
        seen = {best.translation}
        for alternative in hyp.alternatives:
            if len(best.alternatives) >= alternatives:
                break
            if self.tokenizer.decode(alternative.tokens) not in seen:
                best.alternatives.append(self._translation(source_ids, order, alternative))
                seen.add(best.alternatives[-1].translation)
        return best

    def _translation(self, source_ids: list[int], order: list[int], hyp: Hypothesis) -> Translation:
        target_ids = hyp.tokens + ([self.tokenizer.eos_id] if hyp.ended else [])
        return Translation(
            translation=self.tokenizer.decode(hyp.tokens),
            source_tokens=self.tokenizer.pieces(source_ids),
            target_tokens=self.tokenizer.pieces(target_ids),
            attention=rounded_rows(hyp.attention[:, order]),  # order is its own inverse
            score=hyp.score,
            p_gen=None if hyp.p_gen is None else np.round(hyp.p_gen.astype(np.float64), WEIGHT_DECIMALS).tolist(),
            ended=hyp.ended,
        )
