"""The tokenizer and the input normalisation every source goes through."""

from __future__ import annotations

import random

import pytest
import torch
from conftest import reverse_pairs

from models.translation.tokenizer import Tokenizer, normalize_casing, normalize_input
from training.translation.augment import hide_words, substitute_copies, typing_noise
from training.translation.vocab import train_sentencepiece


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    english = ["My friend lives in Paris.", "I paid 45 euros for 3 books.", "Tom is a teacher."] * 50
    sentences = english + [s for pair in reverse_pairs(300, seed=1) for s in pair]
    return Tokenizer(train_sentencepiece(sentences, vocab_size=400))


ODD = [
    "Gilles lives in Montréal 🙂",
    "Ω≈ç√ 東京 ﬁne",
    "naïve café",
    "Zürich — 7:45 £20 ½",
    "e\u0301 (decomposed)",
    "tab\tand NBSP\u00a0inside",
    "9876543210",
]


@pytest.mark.parametrize("text", ODD)
def test_every_character_round_trips_and_nothing_is_unknown(tokenizer, text):
    ids = tokenizer.encode(text)
    assert tokenizer.unk_id not in ids
    assert ids[-1] == tokenizer.eos_id
    assert tokenizer.decode(ids) == text


def test_broken_byte_runs_are_dropped_not_shown_as_replacement_characters(tokenizer):
    """A decoder can stop after the first bytes of an emoji; those bytes are dropped, the
    characters around them and whole byte-encoded characters are kept."""
    emoji = [i for i in tokenizer.encode("🍕") if tokenizer.sp.IsByte(i)]
    assert len(emoji) == 4
    word = tokenizer.encode("pizza")[:-1]
    assert tokenizer.decode(word + emoji[:-2]) == "pizza"
    assert tokenizer.decode(word + emoji[:-2] + word) == "pizza pizza"
    assert tokenizer.decode(word + emoji) == "pizza🍕"


def test_digits_are_single_pieces(tokenizer):
    """Seen digits are their own pieces, unseen ones their byte: one piece per digit either way."""
    ids = tokenizer.encode("It costs 2024 euros.")[:-1]
    spelled = [tokenizer.decode([i]).strip() for i in ids]
    assert [p for p in spelled if p.isdigit()] == ["2", "0", "2", "4"]


def test_sampling_changes_segmentation_not_text(tokenizer):
    text = "My friend lives in Paris."
    samples = {tuple(tokenizer.encode(text, sample_alpha=0.1)) for _ in range(30)}
    assert len(samples) > 1
    assert all(tokenizer.decode(list(ids)) == text for ids in samples)


@pytest.mark.parametrize(
    "typed,expected",
    [
        ("HELLO, HOW ARE YOU?", "Hello, how are you?"),
        ("I'M TOM AND I LIVE IN PARIS.", "I'm tom and I live in paris."),
        ("how are you", "How are you"),
        ("¿qué tal?", "¿Qué tal?"),
        ("My friend Gilles lives in Montreal.", "My friend Gilles lives in Montreal."),
        ("I LOVE NYC, I think.", "I LOVE NYC, I think."),  # mixed case: left alone
        ("OK", "OK"),  # too short to call it shouting
        ("123 GO", "123 GO"),
    ],
)
def test_normalize_casing(typed, expected):
    assert normalize_casing(typed) == expected
    assert normalize_casing(expected) == expected  # idempotent


def test_normalize_input_folds_whitespace_then_casing():
    assert normalize_input("  how\tare\u00a0\u00a0you ?\n") == "How are you ?"
    assert normalize_input("WHERE  IS\u202fTHE STATION?") == "Where is the station?"


def test_typing_noise_changes_only_casing_and_final_punctuation():
    rng = random.Random(0)
    text = "My friend Gilles lives in Montreal, I think!"
    variants = {typing_noise(text, rng, 0.5) for _ in range(200)}
    assert variants == {text, text[:-1], normalize_casing(text.lower()), normalize_casing(text.lower())[:-1]}
    assert typing_noise(text, rng, 0.0) == text


def _hide(tokenizer: Tokenizer, ids: list[int], p: float, seed: int = 0) -> list[int]:
    torch.manual_seed(seed)
    kept = torch.tensor([*tokenizer.special_ids, tokenizer.sp.PieceToId("▁")])
    starts = torch.tensor(tokenizer.word_starts())
    return hide_words(torch.tensor([ids]), starts, kept, tokenizer.unk_id, p)[0].tolist()


def test_hide_words_hides_whole_words_and_keeps_special_ids_and_bare_spaces(tokenizer):
    ids = tokenizer.encode("Gilles lives in Montréal 🙂 and paid 45 euros.")
    assert _hide(tokenizer, ids, 0.0) == ids
    everything = _hide(tokenizer, ids, 1.0)
    kept = {*tokenizer.special_ids, tokenizer.sp.PieceToId("▁")}
    assert [i if i in kept else tokenizer.unk_id for i in ids] == everything
    assert everything[-1] == tokenizer.eos_id and any(i in kept - {tokenizer.eos_id} for i in ids)
    pieces = tokenizer.pieces(ids)
    for seed in range(20):  # some words hidden, some not, never part of a word
        hidden = _hide(tokenizer, ids, 0.5, seed)
        word: list[bool] = []
        for piece, before, after in zip(pieces, ids, hidden):
            if piece.startswith("▁"):
                word = []
            if before not in kept:
                word.append(after == tokenizer.unk_id)
                assert len(set(word)) == 1, (seed, pieces, hidden)


def test_byte_pieces_form_one_contiguous_range(tokenizer):
    low, high = tokenizer.byte_id_range()
    assert high - low == 256
    assert tokenizer.pieces([low, high - 1]) == ["<0x00>", "<0xFF>"]
    emoji = tokenizer.encode("🙂")
    assert any(low <= i < high for i in emoji)


def test_substitute_copies_swaps_what_both_sides_hold_the_same_way():
    rng = random.Random(3)
    pairs = [
        ("Tom and Mary live in Paris.", "Tom et Mary vivent à Paris."),
        ("I paid 45 euros for 3 books.", "J'ai payé 45 euros pour trois livres."),
        ("The cat is black.", "Le chat est noir."),
    ]
    (s1, t1), (s2, t2), (s3, t3) = (substitute_copies(s, t, rng, 1.0) for s, t in pairs)
    new_names = [w for w in s1.split() if w[0].isupper()]
    assert len(new_names) == 3 and not {"Tom", "Mary", "Paris."} & set(s1.split())
    assert t1.split()[0] == new_names[0] and t1.split()[2] == new_names[1]
    assert t1.endswith(new_names[2].rstrip(".") + ".")
    number = s2.split()[2]
    assert number.isdigit() and f"payé {number} euros" in t2
    assert " 3 books" in s2 and "trois" in t2  # "3" is not in the target: left alone
    assert (s3, t3) == pairs[2]  # "The" is not in the target: nothing to copy
    assert substitute_copies(*pairs[0], random.Random(3), 0.0) == pairs[0]
