"""Near-duplicate search (training.translation.novelty): MinHash-LSH finds what brute force finds."""

from __future__ import annotations

import random

import pytest

from training.translation.data import read_pairs, split_by_source
from training.translation.novelty import NearDuplicateIndex, jaccard, main, novel_subset, shingles


def random_sentences(n: int, vocabulary: int, seed: int, words=(4, 9)) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 8))) for _ in range(vocabulary)]
    return [" ".join(rng.choice(vocab) for _ in range(rng.randint(*words))).capitalize() + "." for _ in range(n)]


def one_word_swapped(sentence: str, word: str) -> str:
    words = sentence.rstrip(".").split()
    words[len(words) // 2] = word
    return " ".join(words) + "."


def brute_force_best(queries: list[str], corpus: list[str]) -> list[float]:
    sets = [shingles(c) for c in corpus]
    return [max(jaccard(shingles(q), s) for s in sets) for q in queries]


def test_lsh_finds_planted_near_duplicate_and_flags_nothing_unrelated():
    corpus = random_sentences(5000, vocabulary=3000, seed=1, words=(7, 10))
    planted = one_word_swapped(corpus[1234], "zzzz")
    unrelated = random_sentences(50, vocabulary=3000, seed=2, words=(7, 10))
    true_best = brute_force_best([planted] + unrelated, corpus)
    assert true_best[0] >= 0.5 and max(true_best[1:]) < 0.5  # the data are what the test says

    similarity, match = NearDuplicateIndex(corpus, threshold=0.5).best_matches([planted] + unrelated)
    assert match[0] == 1234 and similarity[0] == pytest.approx(true_best[0])
    assert (match[1:] == -1).all() and (similarity[1:] == 0).all()


def test_case_and_punctuation_do_not_make_a_sentence_new():
    assert jaccard(shingles("Tom is a teacher!"), shingles("tom is a teacher.")) == 1.0
    assert jaccard(shingles("I'm here."), shingles("Im here")) == 1.0
    assert shingles("Hi.") == shingles("hi")
    assert shingles("?!") == frozenset({"  "})  # nothing left still gives a non-empty set


def test_a_paraphrase_pair_is_a_near_duplicate_and_a_new_frame_is_not():
    index = NearDuplicateIndex(["Tom was a teacher.", "It is raining in Paris today."], threshold=0.5)
    similarity, match = index.best_matches(["Tom is a teacher.", "Tom is my brother."])
    assert match.tolist() == [0, -1]
    assert similarity[0] == pytest.approx(jaccard(shingles("Tom is a teacher."), shingles("Tom was a teacher.")))


def test_threshold_is_inclusive_and_exact():
    a, b = "He helps her.", "He helps us."
    exact = jaccard(shingles(a), shingles(b))
    assert exact == 0.5  # 4-gram sets of 8 and 7 with 5 shared
    assert NearDuplicateIndex([b], threshold=exact).best_matches([a])[1].tolist() == [0]
    assert NearDuplicateIndex([b], threshold=exact + 1e-9).best_matches([a])[1].tolist() == [-1]
    assert novel_subset([(a, "Il l'aide.")], [b], threshold=exact) == []
    assert novel_subset([(a, "Il l'aide.")], [b], threshold=exact + 1e-9) == [(a, "Il l'aide.")]


def test_novel_subset_equals_brute_force_on_a_small_crowded_set():
    """A small vocabulary makes many pairs land near the threshold."""
    train = random_sentences(400, vocabulary=25, seed=3, words=(2, 6))
    rng = random.Random(4)
    swapped = [one_word_swapped(s, rng.choice(["tom", "mary", "x"])) for s in rng.sample(train, 150)]
    candidates = swapped + random_sentences(150, vocabulary=25, seed=5, words=(2, 6))
    pairs = [(s, f"ref {i}") for i, s in enumerate(candidates)] + [(candidates[0], "second ref")]
    best = dict(zip(candidates, brute_force_best(candidates, train)))
    for threshold in (0.35, 0.5, 0.65):
        expected = [p for p in pairs if best[p[0]] < threshold]
        assert 10 < len(expected) < len(pairs) - 10  # both kinds are present
        assert novel_subset(pairs, train, threshold) == expected


def test_cli_reproduces_the_training_split_and_writes_novel_files(tmp_path, capsys):
    rng = random.Random(6)
    sentences = random_sentences(300, vocabulary=40, seed=7, words=(3, 7))
    lines = [f"{s}\tR{i}\n" for i, s in enumerate(sentences)] + [f"{s}\tautre\n" for s in rng.sample(sentences, 60)]
    data = tmp_path / "pairs.txt"
    data.write_text("".join(lines), encoding="utf-8")
    out = tmp_path / "splits"
    figures = main(["--data", str(data), "--splits-dir", str(out), "--dev-size", "30", "--test-size", "50"])

    splits = split_by_source(read_pairs(data), 30, 50, seed=1234)
    assert read_pairs(out / "test.tsv") == splits.test and read_pairs(out / "dev.tsv") == splits.dev
    train = [s for s, _ in splits.train]
    for name, full in (("test", splits.test), ("dev", splits.dev)):
        written = read_pairs(out / f"{name}_novel.tsv")
        assert written == novel_subset(full, train)
        assert figures[name]["novel_pairs"] == len(written)
    assert "| test novel (J < 0.5) |" in capsys.readouterr().out

    with pytest.raises(SystemExit, match="not the split"):
        main(["--data", str(data), "--splits-dir", str(out), "--dev-size", "30", "--test-size", "50", "--seed", "99"])


def test_cli_split_defaults_are_training_defaults():
    from training.translation.novelty import parse_args as novelty_args
    from training.translation.train import parse_args as translate_args

    ours, theirs = novelty_args(["--data", "x"]), translate_args(["--data", "x"])
    assert (ours.dev_size, ours.test_size, ours.seed) == (theirs.dev_size, theirs.test_size, theirs.seed)
    assert ours.splits_dir == theirs.splits_dir


def test_empty_inputs_are_handled():
    assert novel_subset([("Tom is a teacher.", "Tom est professeur.")], []) == [
        ("Tom is a teacher.", "Tom est professeur.")
    ]
    assert novel_subset([], ["Tom was a teacher."]) == []
