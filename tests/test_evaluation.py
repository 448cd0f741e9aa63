"""Translation figures: length buckets, number and name copy rates, several test files at once."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest
from conftest import reverse_pairs, write_tsv

from training.translation.data import read_pairs
from training.translation.evaluate import corpus_scores, score_hypotheses, score_pairs
from training.translation.metrics import bleu_by_length, copy_rates, digit_strings, name_candidates


def rates(triples):
    out = copy_rates(triples)
    return out["numbers"], out["names"]


def test_a_hypothesis_that_drops_one_of_two_numbers_keeps_half():
    numbers, _ = rates([("I have 2 cats and 3 dogs.", "J'ai 2 chats et 3 chiens.", "J'ai 2 chats et des chiens.")])
    assert (numbers.kept, numbers.eligible, numbers.rate) == (1, 2, 0.5)


def test_clock_times_count_as_their_digit_strings():
    assert digit_strings("Meet me at 7:45, not 12.") == Counter({"7": 1, "45": 1, "12": 1})
    numbers, _ = rates([("Come at 7:45.", "Viens à 7h45.", "Viens à 7 heures.")])
    assert (numbers.kept, numbers.eligible) == (1, 2)


def test_numbers_the_reference_does_not_copy_are_not_counted():
    numbers, _ = rates([("I have 2 cats.", "J'ai deux chats.", "J'ai 2 chats.")])
    assert (numbers.kept, numbers.eligible, numbers.rate) == (0, 0, None)


def test_repeated_numbers_count_as_often_as_they_occur():
    numbers, _ = rates([("2 and 2 make 4.", "2 et 2 font 4.", "2 et deux font 4.")])
    assert (numbers.kept, numbers.eligible) == (2, 3)


def test_name_candidates_skip_sentence_openers_and_the_pronoun_i():
    assert name_candidates("Tom met Mary in Boston.") == Counter({"Mary": 1, "Boston": 1})
    assert name_candidates("Yesterday I'm sure I'll see Tom's dog.") == Counter({"Tom": 1})
    assert name_candidates("Tom left. He was tired.") == Counter()


def test_names_kept_counts_only_names_the_reference_keeps():
    # "Tom" opens the sentence; "Mary" and "Boston" are kept by the reference, "English" is not
    _, names = rates(
        [
            (
                "Tom met Mary in Boston in English.",
                "Tom a rencontré Mary à Boston en anglais.",
                "Tom a rencontré Marie à Boston en anglais.",
            )
        ]
    )
    assert (names.kept, names.eligible, names.rate) == (1, 2, 0.5)


def test_copy_rates_pool_counts_over_lines():
    triples = [
        ("It costs 5 dollars.", "Ça coûte 5 dollars.", "Ça coûte 5 dollars."),
        ("Call 911, 112 or 999.", "Appelle le 911, le 112 ou le 999.", "Appelle les secours."),
    ]
    numbers, _ = rates(triples)
    assert (numbers.kept, numbers.eligible) == (1, 4)  # pooled 1/4, not the mean of 1 and 0


def test_length_buckets_count_sources_and_score_each_alone():
    lengths = [1, 4, 4, 5, 8, 9, 12, 13, 20]
    sources = [" ".join(["w"] * n) for n in lengths]
    refs = [" ".join(f"mot{i}x{k}" for k in range(max(n, 4))) for i, n in enumerate(lengths)]
    hyps = [r if n < 13 else "rien du tout" for r, n in zip(refs, lengths)]  # long ones all wrong
    buckets = bleu_by_length(sources, hyps, [refs])
    assert {b: count for b, (count, _) in buckets.items()} == {"1-4": 3, "5-8": 2, "9-12": 2, "13+": 2}
    assert buckets["1-4"][1] == pytest.approx(100) and buckets["9-12"][1] == pytest.approx(100)
    assert buckets["13+"][1] == pytest.approx(0)


def test_length_buckets_use_every_reference_of_a_source():
    sources, hyps = ["one two three", "a b c d e f"], ["un deux trois quatre", "x y z w v u"]
    streams = [["uno dos tres cuatro", "x y z w v u"], ["un deux trois quatre", None]]
    buckets = bleu_by_length(sources, hyps, streams)
    assert buckets["1-4"] == (1, pytest.approx(100)) and buckets["5-8"] == (1, pytest.approx(100))


def fixed(table: dict[str, str]) -> SimpleNamespace:
    """A translator stand-in returning given hypotheses."""

    def translate(texts, beam_size=1, no_repeat_ngram=None):  # Translator.translate's signature
        return [SimpleNamespace(translation=table[t]) for t in texts]

    return SimpleNamespace(translate=translate, multilingual=False)


def test_score_pairs_keeps_its_signature_and_agrees_with_score_hypotheses(tmp_path):
    pairs = [
        ("I saw Tom at 5.", "J'ai vu Tom à 5 heures."),
        ("I saw Tom at 5.", "Je vis Tom à 5 h."),
        ("We are here.", "Nous sommes ici."),
    ]
    table = {"I saw Tom at 5.": "J'ai vu Tom à 5 heures.", "We are here.": "On est là."}
    single: dict = {}
    bleu, chrf = score_pairs(fixed(table), pairs, 5, tmp_path / "hyp.tsv", single)
    scores = score_hypotheses(pairs, table)
    assert (bleu, chrf) == (scores["bleu"], scores["chrf"])
    assert corpus_scores(pairs, table, single=False) == {"bleu": bleu, "chrf": chrf}  # the dev-time path
    assert single == {"bleu": scores["bleu_1ref"], "chrf": scores["chrf_1ref"]}
    assert scores["bleu_1ref"] < bleu  # the second reference of the first source no longer helps
    assert (tmp_path / "hyp.tsv").read_text(encoding="utf-8").splitlines() == [f"{s}\t{h}" for s, h in table.items()]


def test_several_test_files_give_one_table_each_and_prefixed_metrics(tmp_path, capsys, monkeypatch):
    import training.translation.evaluate as evaluation

    full = reverse_pairs(30, seed=31) + [("ab cd", "CD AB"), ("ab cd", "CD  AB !")]
    subset = full[::3] + [("ab cd", "CD AB")]
    table = {s: t.lower() if i % 2 else t for i, (s, t) in enumerate(full)}
    seen: list[str] = []
    stand_in = fixed(table)
    stand_in.id = "stand-in"
    stand_in.no_repeat_ngram = 0

    def translate(texts, beam_size=1, no_repeat_ngram=None):
        seen.extend(texts)
        return fixed(table).translate(texts)

    stand_in.translate = translate
    monkeypatch.setattr(evaluation.Translator, "load", classmethod(lambda cls, directory: stand_in))
    paths = [write_tsv(tmp_path / "test.tsv", full), write_tsv(tmp_path / "test_novel.tsv", subset)]
    metrics = evaluation.main(
        ["--checkpoint", "unused", "--test", *map(str, paths), "--beams", "1,5", "--hyp-dir", str(tmp_path / "hyps")]
    )

    assert sorted(seen) == sorted(list(table) * 2)  # every source decoded once per beam, not per file
    assert capsys.readouterr().out.count("| model | decoding | BLEU |") == 2
    for prefix, path in zip(("test", "test_novel"), paths):
        pairs = read_pairs(path)  # cleaned and deduplicated as main reads them
        scores = score_hypotheses(pairs, table)
        assert metrics[f"{prefix}_sources"] == len({s for s, _ in pairs})
        assert metrics[f"{prefix}_bleu_beam5"] == round(scores["bleu"], 2)
        assert metrics[f"{prefix}_bleu_greedy_1ref"] == round(scores["bleu_1ref"], 2)
        counts = sum(metrics[f"{prefix}_len_{b}_sources"] for b in ("1_4", "5_8", "9_12", "13plus"))
        assert counts == metrics[f"{prefix}_sources"]
    whole, novel = (
        (tmp_path / "hyps" / f"stand-in{middle}.beam5.hyp.tsv").read_text(encoding="utf-8").splitlines()
        for middle in ("", ".test_novel")
    )
    assert len(whole) == len({s for s, _ in full}) and len(novel) == metrics["test_novel_sources"]
    assert set(novel) <= set(whole)


def test_two_test_files_with_one_name_are_refused_before_any_decoding(tmp_path):
    from training.translation.evaluate import main

    paths = []
    for folder in ("strict", "loose"):
        (tmp_path / folder).mkdir()
        paths.append(str(write_tsv(tmp_path / folder / "test_novel.tsv", [("ab cd", "CD AB")])))
    with pytest.raises(SystemExit, match="distinct names"):  # the checkpoint is never opened
        main(["--checkpoint", str(tmp_path / "no-such-checkpoint"), "--test", *paths])


def test_loop_rate_counts_repeats_the_source_does_not_have():
    from training.translation.metrics import loop_rate, repeats_ngram

    assert repeats_ngram("she is going to be able to be able to be able to wear")
    assert not repeats_ngram("I told my sister yesterday that she is moving to Berlin.")
    looping = ("Sie zieht nach Berlin.", "she is going to be able to be able to be able to wear")
    fine = ("Ich bin froh.", "I am happy.")
    echoed = ("one two three four one two three four", "un deux trois quatre un deux trois quatre")
    assert loop_rate([looping, fine, echoed, fine]) == 0.25  # the echo repeats what its source repeats
    assert loop_rate([]) is None
