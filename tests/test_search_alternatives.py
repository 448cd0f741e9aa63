"""The n-best of beam search (issue 12's ``alternatives``): the next-best finished hypotheses of
each sentence, ranked by the length-normalised score that picks the best, each with its own
attention rows and p_gen.

Random untrained nets (many reordered beams, some hypotheses cut off at max_length) check that
every alternative's rows and score are those its own tokens produce under teacher forcing; the
session's tiny trained translator checks what ``Translator.translate(..., alternatives=N)``
returns.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import reverse_pairs
from test_models import random_model, teacher_forced

from models.translation.search import beam_search
from models.translation.seq2seq import Seq2Seq, Seq2SeqConfig
from models.translation.translator import Translator, pad_batch


def penalised(score: float, produced: int, length_penalty: float) -> float:
    """GNMT length normalisation, as the README states it: score / ((5 + n) / 6) ** lp."""
    return score / ((5 + produced) / 6) ** length_penalty


def random_batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return pad_batch([torch.randint(4, 30, (n,), generator=gen).tolist() + [3] for n in (3, 7, 5, 9, 2, 6)], 0)


def copying_model() -> Seq2Seq:
    torch.manual_seed(2)
    cfg = Seq2SeqConfig(vocab_size=30, embed_size=8, hidden_size=12, attention_size=8, copy=True)
    return Seq2Seq(cfg).eval()


@pytest.mark.parametrize("beam", [3, 6])
@pytest.mark.parametrize("net", ["plain", "copying"])
def test_every_alternative_has_its_own_rows_score_and_rank(beam, net):
    model = random_model(seed=7) if net == "plain" else copying_model()
    src, lengths = random_batch(beam)
    options = dict(beam_size=beam, max_length=9, length_penalty=0.5)
    plain = beam_search(model, src, lengths, **options)
    ranked = beam_search(model, src, lengths, **options, n_best=True)
    assert all(not h.alternatives for h in plain)
    seen_alternatives = cut_off = 0
    for b, (alone, best) in enumerate(zip(plain, ranked)):
        assert best.tokens == alone.tokens and best.score == alone.score  # the best is unchanged
        np.testing.assert_array_equal(best.attention, alone.attention)
        hyps = [best, *best.alternatives]
        assert len({(tuple(h.tokens), h.ended) for h in hyps}) == len(hyps)
        ranks = [penalised(h.score, len(h.tokens) + h.ended, 0.5) for h in hyps]
        assert ranks == sorted(ranks, reverse=True)
        for h in best.alternatives:
            assert h.attention.shape == (len(h.tokens) + h.ended, int(lengths[b]))
            rows, score = teacher_forced(model, src[b, : int(lengths[b])], h)
            np.testing.assert_allclose(h.attention, rows, atol=1e-4)
            assert h.score == pytest.approx(score, abs=1e-3)
            if net == "copying":
                assert h.p_gen is not None and h.p_gen.shape == (len(h.tokens) + h.ended,)
                assert np.all((h.p_gen > 0) & (h.p_gen < 1))
            else:
                assert h.p_gen is None
            cut_off += not h.ended
        seen_alternatives += len(best.alternatives)
    assert seen_alternatives >= len(plain) and cut_off > 0


def test_greedy_has_no_alternatives():
    model = random_model(seed=7)
    src, lengths = random_batch(1)
    assert all(not h.alternatives for h in beam_search(model, src, lengths, beam_size=1, n_best=True))


# --- the trained tiny translator -----------------------------------------------------------


@pytest.fixture(scope="module")
def translator(tiny_translator_dir) -> Translator:
    return Translator.load(tiny_translator_dir)


@pytest.fixture(scope="module")
def sources() -> list[str]:
    """Sentences the model was not trained on as such, some longer than any it saw (more doubt)."""
    fresh = [s for s, _ in reverse_pairs(8, seed=23)]
    return fresh + [f"{a} {b}" for a, b in zip(fresh[:4], fresh[4:])]


@pytest.mark.parametrize("beam", [2, 5])
def test_the_best_is_the_plain_result(translator, sources, beam):
    plain = translator.translate(sources, beam_size=beam)
    ranked = translator.translate(sources, beam_size=beam, alternatives=beam - 1)
    assert all(r.alternatives == [] for r in plain)
    for alone, best in zip(plain, ranked):
        assert (best.translation, best.target_tokens, best.source_tokens, best.score) == (
            alone.translation,
            alone.target_tokens,
            alone.source_tokens,
            alone.score,
        )
        np.testing.assert_array_equal(best.attention, alone.attention)


@pytest.mark.parametrize("beam, wanted", [(5, 4), (5, 2), (3, 2)])
def test_alternatives_are_distinct_ranked_and_carry_their_attention(translator, sources, beam, wanted):
    results = translator.translate(sources, beam_size=beam, alternatives=wanted)
    assert any(len(r.alternatives) == wanted for r in results)
    for result in results:
        assert len(result.alternatives) <= wanted
        texts = [result.translation] + [a.translation for a in result.alternatives]
        assert len(set(texts)) == len(texts)
        ranks = [penalised(t.score, len(t.target_tokens), 1.0) for t in [result, *result.alternatives]]
        assert ranks == sorted(ranks, reverse=True)
        for alternative in result.alternatives:
            assert alternative.source_tokens == result.source_tokens and alternative.alternatives == []
            attention = np.asarray(alternative.attention)
            assert attention.shape == (len(alternative.target_tokens), len(result.source_tokens))
            np.testing.assert_allclose(attention.sum(axis=1), 1.0, atol=1e-5)
            assert alternative.translation == translator.tokenizer.decode(
                [translator.tokenizer.sp.PieceToId(p) for p in alternative.target_tokens if p != "</s>"]
            )


@pytest.mark.parametrize("beam, wanted", [(1, 1), (3, 3), (3, -1)])
def test_alternatives_outside_0_to_beam_minus_1_are_refused(translator, beam, wanted):
    with pytest.raises(ValueError, match="alternatives must be between 0 and beam_size - 1"):
        translator.translate(["ab cd"], beam_size=beam, alternatives=wanted)


def test_greedy_translation_has_none(translator, sources):
    assert all(r.alternatives == [] for r in translator.translate(sources, beam_size=1, alternatives=0))


def test_multilingual_alternatives_read_the_language_token(tiny_multilingual_dir):
    to_de = Translator.load(tiny_multilingual_dir).towards("en", "de")
    (result,) = to_de.translate(["ab cd ef gh ij kl mn op qr"], beam_size=4, alternatives=3)
    assert result.alternatives
    for alternative in result.alternatives:
        assert alternative.source_tokens == result.source_tokens and alternative.source_tokens[0] == "<2de>"
        assert np.asarray(alternative.attention).shape == (len(alternative.target_tokens), len(result.source_tokens))
