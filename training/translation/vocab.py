"""Train the SentencePiece model on the training split only.

Digits are split into single pieces (so any number is spelled from ten pieces the model
sees everywhere, and can be copied one by one), and characters outside the vocabulary fall
back to their UTF-8 bytes (256 byte pieces), so no input ever becomes ``<unk>``. The
normalisation is the identity: what a user typed is what the pieces spell, so every input
character round-trips (whitespace runs are still folded to one space).

One joint vocabulary for English and French: the two share much of their surface
(names, numbers, punctuation, cognates), so one table lets a single embedding matrix
serve the encoder, the decoder and the output layer (three-way tying), which cuts the
parameter count and lets copies such as names pass straight through.
"""

from __future__ import annotations

import io
import random

import sentencepiece as spm


def train_sentencepiece(
    sentences: list[str],
    vocab_size: int,
    seed: int = 1234,
    max_sentences: int = 400_000,
    control_symbols: list[str] | None = None,
) -> bytes:
    """-> serialized SentencePiece unigram model with pad 0, unk 1, bos 2, eos 3, then the
    ``control_symbols`` (e.g. target-language tokens ``<2de>``): pieces no text ever encodes
    to, reachable only by id, so a user cannot type one."""
    if len(sentences) > max_sentences:
        sentences = random.Random(seed).sample(sentences, max_sentences)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        pad_id=0,
        unk_id=1,
        bos_id=2,
        eos_id=3,
        pad_piece="<pad>",
        unk_piece="<unk>",
        bos_piece="<s>",
        eos_piece="</s>",
        hard_vocab_limit=False,
        num_threads=2,
        minloglevel=2,
        split_digits=True,
        byte_fallback=True,
        normalization_rule_name="identity",
        control_symbols=control_symbols or [],
    )
    return model.getvalue()
