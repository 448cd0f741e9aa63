"""Training pipeline (training/): data reading and splitting, batching, resuming a run,
and the evaluation command on the session's tiny translator."""

from __future__ import annotations

import json
import logging
import random
from collections import Counter

import pytest
import torch
from conftest import reverse_pairs, write_tsv

from models.translation.translator import Translator
from training.translation.data import bucket_batches, group_references, read_pairs, split_by_source, spread

# --- 8. training.translation.data ---------------------------------------------------------------------


def test_read_pairs_cleans_dedups_and_skips_malformed(tmp_path, caplog):
    lines = [
        "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #1158250 (Wittydev)",
        "Hi.\tSalut !",
        "Go.\tVa !\tCC-BY 2.0 (France) Attribution: another attribution",  # same pair: dupe
        "Go.\tMarche.\tCC-BY 2.0 (France) Attribution: x",  # second reference
        "just one field",  # malformed
        "",  # malformed
        "\tno source",  # malformed
        "no target\t  \u00a0",  # malformed
        "Run!\u00a0 \tCours\u202f!\r",  # Unicode spaces, CRLF
        "Hi. \t Salut !",  # dupe after cleaning
    ]
    path = tmp_path / "anki.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="training.translation.data"):
        pairs = read_pairs(path)
    assert pairs == [("Go.", "Va !"), ("Hi.", "Salut !"), ("Go.", "Marche."), ("Run!", "Cours !")]
    message = " ".join(r.getMessage() for r in caplog.records)
    assert "4 unique pairs" in message
    assert "2 duplicates removed" in message
    assert "4 malformed lines skipped" in message


def multi_reference_pairs(n_sources: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(f"source {i}", f"target {i}.{j}") for i in range(n_sources) for j in range(rng.randint(1, 3))]


def test_split_by_source_keeps_sources_apart():
    pairs = multi_reference_pairs(200, seed=1)
    splits = split_by_source(pairs, dev_sources=20, test_sources=30, seed=5)
    parts = {"train": splits.train, "dev": splits.dev, "test": splits.test}
    sources = {name: {s for s, _ in part} for name, part in parts.items()}
    assert len(sources["dev"]) == 20 and len(sources["test"]) == 30
    assert len(sources["train"]) == 150
    assert not sources["train"] & sources["dev"]
    assert not sources["train"] & sources["test"]
    assert not sources["dev"] & sources["test"]
    # nothing lost, nothing duplicated; every reference of a source goes with it
    assert Counter(splits.train + splits.dev + splits.test) == Counter(pairs)
    for name, part in parts.items():
        for source in sources[name]:
            assert [p for p in part if p[0] == source] == [p for p in pairs if p[0] == source]
    # deterministic for a seed, different for another
    again = split_by_source(pairs, 20, 30, seed=5)
    assert (again.train, again.dev, again.test) == (splits.train, splits.dev, splits.test)
    other = split_by_source(pairs, 20, 30, seed=6)
    assert {s for s, _ in other.test} != sources["test"]
    with pytest.raises(ValueError):
        split_by_source(pairs, 100, 100)


def test_group_references_streams():
    sources, streams = group_references([("a", "A1"), ("b", "B1"), ("a", "A2"), ("c", "C1")])
    assert sources == ["a", "b", "c"]
    assert streams == [["A1", "B1", "C1"], ["A2", None, None]]


@pytest.mark.parametrize("pool", [100, 3])
def test_bucket_batches_cover_every_index_within_budget(pool):
    rng = random.Random(0)
    lengths = [(rng.randint(1, 40), rng.randint(1, 40)) for _ in range(900)]
    lengths += [(250, 3), (2, 260)]  # longer than the budget on their own
    max_tokens = 200
    batches = bucket_batches(lengths, max_tokens, random.Random(42), pool=pool)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(lengths)))
    for batch in batches:
        assert batch
        padded = len(batch) * max(max(lengths[i]) for i in batch)
        assert padded <= max_tokens or len(batch) == 1, (batch, padded)
    for huge in (900, 901):
        assert [huge] in batches
    # deterministic for one rng seed; batches are not trivially one example each
    assert bucket_batches(lengths, max_tokens, random.Random(42), pool=pool) == batches
    assert len(batches) < len(lengths) / 3


# --- 9. resuming a training run -----------------------------------------------------------


def train_args(tmp_path, data, out, epochs: int, *extra: str) -> list[str]:
    return [
        "--data",
        str(data),
        "--out",
        str(out),
        "--vocab-size",
        "400",
        "--embed-size",
        "16",
        "--hidden-size",
        "16",
        "--attention-size",
        "8",
        "--dropout",
        "0.0",
        "--batch-tokens",
        "200",
        "--epochs",
        str(epochs),
        "--warmup",
        "5",
        "--lr",
        "0.005",
        "--dev-size",
        "10",
        "--test-size",
        "10",
        "--eval-every",
        "100000",
        "--threads",
        "1",
        "--device",
        "cpu",
        "--splits-dir",
        str(tmp_path / "splits"),
        "--logdir",
        str(tmp_path / "runs"),
        "--no-progress",
        *extra,
    ]


def test_resumed_run_equals_an_uninterrupted_one(tmp_path, caplog):
    """Two epochs in one go, and one epoch then --resume to two (with dropout and source
    noise on, so the RNG and the per-epoch batches must be restored too): the same steps,
    counters and weights."""
    from safetensors.torch import load_file

    from training.translation.train import main

    data = write_tsv(tmp_path / "pairs.tsv", reverse_pairs(300, seed=3))
    noisy = ("--dropout", "0.1", "--noise", "0.3")
    whole = main(train_args(tmp_path, data, tmp_path / "whole", 2, *noisy))
    out = tmp_path / "split"
    first = main(train_args(tmp_path, data, out, 1, *noisy))
    assert 0 < first["step"] < whole["step"] and first["epoch"] == 1
    tokenizer_bytes = (out / "spm.model").read_bytes()

    # --epochs already reached: a resumed run has nothing left to do
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="training.loop"):
        same = main(train_args(tmp_path, data, out, 1, "--resume", *noisy))
    assert f"resumed at step {first['step']}" in caplog.text
    assert same["step"] == first["step"]

    second = main(train_args(tmp_path, data, out, 2, "--resume", *noisy))
    assert (second["step"], second["epoch"], second["items"]) == (whole["step"], 2, whole["items"])
    assert [h["score"] for h in second["history"]] == [h["score"] for h in whole["history"]]
    resumed = load_file(str(out / ".train" / "state.safetensors"))
    uninterrupted = load_file(str(tmp_path / "whole" / ".train" / "state.safetensors"))
    assert resumed.keys() == uninterrupted.keys()
    for key in uninterrupted:
        if key.startswith("model."):
            torch.testing.assert_close(resumed[key], uninterrupted[key], rtol=0, atol=1e-6, msg=key)
    assert (out / "spm.model").read_bytes() == tokenizer_bytes
    assert Translator.load(out).translate(["ab cd ef"], beam_size=2)[0].target_tokens


def test_resume_can_restart_the_learning_rate_scale(tmp_path, caplog):
    """--lr-scale on --resume replaces the saved scale (which plateaus halve) for what follows."""
    from training.translation.train import main

    data = write_tsv(tmp_path / "pairs.tsv", reverse_pairs(300, seed=3))
    out = tmp_path / "run"
    first = main(train_args(tmp_path, data, out, 1, "--eval-every", "100000"))
    more = ("--resume", "--max-steps", str(first["step"] + 2), "--eval-every", "100000")
    with caplog.at_level(logging.INFO, logger="training.loop"):
        kept = main(train_args(tmp_path, data, out, 2, *more))
        restarted = main(train_args(tmp_path, data, out, 3, *more[:2], str(first["step"] + 4), "--lr-scale", "4"))
    assert kept["lr_scale"] == first["lr_scale"]
    assert f"{kept['lr_scale']:.3g} -> 4 (--lr-scale)" in caplog.text
    assert restarted["lr_scale"] in (4.0, 2.0)  # 2: the evaluation at the stop found no gain and halved it


def test_resume_can_forget_the_best_score(tmp_path, caplog):
    """--reset-best on --resume: the saved best (on another dev measure, say) no longer blocks the
    checkpoint, so the first evaluation after it is the best and is written, whatever its score."""
    from training.translation.train import main

    data = write_tsv(tmp_path / "pairs.tsv", reverse_pairs(300, seed=3))
    out = tmp_path / "run"
    first = main(train_args(tmp_path, data, out, 1))
    state = out / ".train" / "state.json"  # a best on an easier dev measure than the one now used
    saved = json.loads(state.read_text())
    saved["progress"]["best"] = 1000.0
    state.write_text(json.dumps(saved))
    more = ("--resume", "--max-steps", str(first["step"] + 2), "--eval-every", "100000", "--reset-best")
    with caplog.at_level(logging.INFO, logger="training.loop"):
        after = main(train_args(tmp_path, data, out, 2, *more))
    assert "forgotten (--reset-best)" in caplog.text
    assert round(after["best"], 4) == after["history"][-1]["score"] and after["bad_evals"] == 0
    assert json.loads((out / "config.json").read_text())["training"]["steps"] == first["step"] + 2


def test_resume_without_state_fails(tmp_path):
    from training.translation.train import main

    data = write_tsv(tmp_path / "pairs.tsv", reverse_pairs(100, seed=4))
    with pytest.raises(FileNotFoundError, match="no training state"):
        main(train_args(tmp_path, data, tmp_path / "nothing", 1, "--resume"))


def test_init_from_starts_a_new_run_from_a_checkpoint(tmp_path):
    """--init-from: the checkpoint's tokenizer and weights (with lr 0 they come out unchanged, so
    nothing else was trained or re-initialised), a new step count, and the provenance in config.json;
    another architecture is refused naming what differs, and --resume with it is refused."""
    from safetensors.torch import load_file

    from models.checkpoint import CheckpointError
    from training.translation.train import main

    data = write_tsv(tmp_path / "pairs.tsv", reverse_pairs(300, seed=3))
    first = main(train_args(tmp_path, data, tmp_path / "a", 1))
    started = main(train_args(tmp_path, data, tmp_path / "b", 1, "--init-from", str(tmp_path / "a"), "--lr", "0"))
    assert started["step"] == first["step"]  # counted from 0 again: one epoch of the same data
    assert (tmp_path / "b" / "spm.model").read_bytes() == (tmp_path / "a" / "spm.model").read_bytes()
    before, after = (
        load_file(str(tmp_path / "a" / "model.safetensors")),
        load_file(str(tmp_path / "b" / "model.safetensors")),
    )
    assert before.keys() == after.keys()
    for key in before:
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=0, msg=key)
    a_config = json.loads((tmp_path / "a" / "config.json").read_text())
    config = json.loads((tmp_path / "b" / "config.json").read_text())
    start = config["training"]["init_from"]
    assert (start["id"], start["steps"], start["commands"]) == ("a", first["step"], a_config["training"]["commands"])
    assert "--init-from" in (tmp_path / "b" / "MODEL_CARD.md").read_text()

    with pytest.raises(CheckpointError, match="hidden_size: flags give 32, checkpoint has 16"):
        main(train_args(tmp_path, data, tmp_path / "c", 1, "--init-from", str(tmp_path / "a"), "--hidden-size", "32"))
    with pytest.raises(SystemExit):
        main(train_args(tmp_path, data, tmp_path / "b", 2, "--init-from", str(tmp_path / "a"), "--resume"))


def test_oversample_repeats_the_pairs_of_a_direction(tmp_path):
    """--oversample en-de=3: en-de's training pairs come three times an epoch, the others once
    (counted in the epoch's target tokens); an untrained direction or a bad factor is refused."""
    from conftest import multilingual_files

    from training.translation.train import main

    base = [
        *("--data", *multilingual_files(tmp_path, n=300)),
        *("--directions", "en-fr", "en-de"),
        *("--vocab-size", "400", "--embed-size", "8", "--hidden-size", "8", "--attention-size", "8"),
        *("--batch-tokens", "400", "--epochs", "1", "--dev-size", "10", "--test-size", "10", "--noise", "0"),
        *("--splits-dir", str(tmp_path / "splits"), "--logdir", str(tmp_path / "runs"), "--no-progress"),
        *("--threads", "1", "--device", "cpu", "--no-copy"),
    ]
    once = main([*base, "--out", str(tmp_path / "once")])
    thrice = main([*base, "--out", str(tmp_path / "thrice"), "--oversample", "en-de=3"])
    # fr and de targets have the same length (the same words): 1 + 3 shares instead of 1 + 1
    assert thrice["items"] == 2 * once["items"]
    config = json.loads((tmp_path / "thrice" / "config.json").read_text())
    assert config["training"]["oversample"] == {"en-de": 3}
    for bad in ("de-en=2", "en-de=0", "en-de=1.5"):
        with pytest.raises(SystemExit):
            main([*base, "--out", str(tmp_path / "bad"), "--oversample", bad])


# --- 10. evaluation command ---------------------------------------------------------------


@pytest.mark.tiny_model
def test_evaluate_translation_reports_bleu_and_writes_hypotheses(tiny_translator_copy, tmp_path, capsys):
    from training.translation.evaluate import main

    pairs = reverse_pairs(40, seed=21)
    test_file = write_tsv(tmp_path / "test.tsv", pairs)
    hyp_dir = tmp_path / "hyps"
    metrics = main(
        [
            "--checkpoint",
            str(tiny_translator_copy),
            "--test",
            str(test_file),
            "--hyp-dir",
            str(hyp_dir),
            "--write-metrics",
        ]
    )
    distinct = list(dict.fromkeys(s for s, _ in pairs))
    assert metrics["test_sources"] == len(distinct)
    assert metrics["test_pairs"] == len(set(pairs))
    assert metrics["test_bleu_greedy"] > 50 and metrics["test_bleu_beam5"] > 50
    assert 0 < metrics["test_chrf_greedy"] <= 100
    printed = capsys.readouterr().out
    assert "greedy" in printed and "beam5" in printed
    assert json.loads(printed.strip().splitlines()[-1]) == metrics

    name = Translator.load(tiny_translator_copy).checkpoint.id  # reloads: manifest rewritten
    references = dict(pairs)
    for tag in ("greedy", "beam5"):
        lines = (hyp_dir / f"{name}.{tag}.hyp.tsv").read_text(encoding="utf-8").splitlines()
        assert [line.split("\t")[0] for line in lines] == distinct
        exact = sum(line.split("\t")[1] == references[line.split("\t")[0]] for line in lines)
        assert exact >= 0.7 * len(lines)
    config = json.loads((tiny_translator_copy / "config.json").read_text())
    assert config["metrics"]["test_bleu_beam5"] == metrics["test_bleu_beam5"]
    assert f"{metrics['test_bleu_greedy']:.2f}" in (tiny_translator_copy / "MODEL_CARD.md").read_text()


def test_dev_eval_subset_is_spread_over_the_whole_dev_set():
    """--dev-eval-sources N takes N sources from the start to the end of the dev set (Tatoeba's
    order runs short to long), not its first N; N at least the count keeps them all."""
    sources = [f"s{i}" for i in range(1000)]
    picked = spread(sources, 10)
    assert len(picked) == len(set(picked)) == 10
    assert picked[0] == "s0" and int(picked[-1][1:]) >= 900
    assert picked == sorted(picked, key=lambda s: int(s[1:]))
    assert spread(sources[:7], 10) == sources[:7]


@pytest.mark.parametrize(
    ("module", "shipped"),
    [("training.translation.train", "translator-en-fr"), ("training.forecasting.train", "forecaster-sp500")],
)
def test_a_run_will_not_replace_a_shipped_checkpoint_without_force(module, shipped):
    """Default --out is under work/; naming a shipped checkpoint's folder is refused before any
    data is read (the checkpoint stays as it was)."""
    import importlib

    from training.common import SHIPPED

    train = importlib.import_module(module)
    before = (SHIPPED / shipped / "SHA256SUMS").read_text()
    assert train.parse_args(["--data", "x.csv"]).out == f"work/{shipped}"
    with pytest.raises(ValueError, match="shipped checkpoint checkpoints/.*--force"):
        train.main(["--data", "no-such-file.csv", "--out", str(SHIPPED / shipped)])
    assert (SHIPPED / shipped / "SHA256SUMS").read_text() == before


def test_progress_lines_reach_the_log_without_a_progress_bar_and_the_limit_counts_preparation(
    tmp_path, caplog, monkeypatch
):
    """--no-progress: every --log-every steps a line says the step, loss, rate and minutes. A
    --max-minutes already spent before the first step stops the run after one step: the limit
    counts from the command's start, data preparation included."""
    import logging

    from training.translation.train import main

    data = write_tsv(tmp_path / "pairs.tsv", reverse_pairs(300, seed=3))
    with caplog.at_level(logging.INFO):
        progress = main(train_args(tmp_path, data, tmp_path / "a", 1, "--log-every", "3", "--max-steps", "7"))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ") and "loss" in r.getMessage()]
    assert [int(line.split(":")[0].split()[1]) for line in lines] == [3, 6] and progress["step"] == 7
    assert all(line.endswith(" min") and "items/s" in line for line in lines)

    # the command started an hour ago (its data preparation took that long): a 30-minute limit is
    # spent, so the run stops after its first step (counted from the training loop, it would not)
    import time
    from types import SimpleNamespace

    import training.translation.train as train_module

    monkeypatch.setattr(train_module, "time", SimpleNamespace(time=lambda: time.time() - 3600))
    progress = main(train_args(tmp_path, data, tmp_path / "b", 1, "--max-minutes", "30"))
    assert progress["step"] == 1
