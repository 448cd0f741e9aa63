"""--max-minutes bounds the whole run (issue: a 2-minute run took 4.6): after the deadline the last
evaluation gets a grace (the larger of 30 s and 10% of the limit) and stops scoring when it runs
out, having scored at least a first batch; the checkpoint is written and says how many dev
sources (windows) its figure covers. Counted in items scored, not in seconds, so a loaded
machine cannot make these tests flaky."""

from __future__ import annotations

import json
import logging
import time
from types import SimpleNamespace

from conftest import HORIZON, LOOKBACK, reverse_pairs, synthetic_csv, write_tsv


def an_hour_ago(monkeypatch, module) -> None:
    """The command ``module`` runs started an hour ago (its data preparation took that long): a
    30-minute limit and its 3-minute grace are spent before the first step ends."""
    monkeypatch.setattr(module, "time", SimpleNamespace(time=lambda: time.time() - 3600))


def test_a_translator_run_past_its_limit_scores_one_batch_of_the_dev_set_and_says_so(tmp_path, monkeypatch, caplog):
    """Without the bound the run evaluated all 300 dev sources after its limit; now its final
    evaluation scores the least (one batch, 64 sources spread over the dev set) and the
    checkpoint, its card, the history and the log say 64 of 300."""
    import training.translation.train as train_module

    data = write_tsv(tmp_path / "pairs.tsv", reverse_pairs(1000, seed=3))
    out = tmp_path / "run"
    an_hour_ago(monkeypatch, train_module)
    args = ["--data", str(data), "--out", str(out), "--vocab-size", "400", "--embed-size", "16"]
    args += ["--hidden-size", "16", "--attention-size", "8", "--batch-tokens", "200", "--dev-size", "300"]
    args += ["--test-size", "10", "--threads", "1", "--device", "cpu", "--no-progress", "--max-minutes", "30"]
    args += ["--splits-dir", str(tmp_path / "splits"), "--logdir", str(tmp_path / "runs")]
    with caplog.at_level(logging.INFO):
        progress = train_module.main(args)
    assert progress["step"] == 1
    assert progress["history"][-1]["scored"] == 64 and progress["history"][-1]["planned"] == 300
    assert progress["best_covers"] == [64, 300]
    config = json.loads((out / "config.json").read_text())
    assert (config["metrics"]["dev_eval_sources"], config["metrics"]["dev_eval_sources_planned"]) == (64, 300)
    assert "on 64 of the 300 dev sources it was to score" in (out / "MODEL_CARD.md").read_text()
    assert (out / "model.safetensors").exists()
    assert "dev evaluation cut by the time limit" in caplog.text
    assert "on 64 of 300 items (the time limit cut the evaluation)" in caplog.text

    # resumed, the cut best is forgotten: the next (complete) evaluation writes the checkpoint
    monkeypatch.undo()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        resumed = train_module.main([*args[:-2], "--resume", "--max-steps", "2", "--eval-every", "100000"])
    assert "covers 64 of 300 items (an evaluation the time limit cut): forgotten" in caplog.text
    assert resumed["best_covers"] is None and "scored" not in resumed["history"][-1]
    config = json.loads((out / "config.json").read_text())
    assert config["metrics"]["dev_eval_sources"] == config["metrics"]["dev_eval_sources_planned"] == 300


def test_a_forecaster_run_past_its_limit_scores_one_batch_and_calibrates_on_few_windows(tmp_path, monkeypatch):
    """The forecaster's final evaluation (45 s on the Kaggle data on this CPU) and its calibration
    after training (as long again) are bounded the same way: one batch of windows, spread over
    tickers, dates and both modes, and calibration on what the time left allows (a minimum)."""
    import training.forecasting.train as train_module

    # the least an evaluation scores, and calibration uses, made small for this small data (not
    # raising: without the bound this test fails on what it checks, not here)
    monkeypatch.setattr(train_module, "EVAL_BATCH", 64, raising=False)
    monkeypatch.setattr(train_module, "MIN_CALIBRATION", 50, raising=False)
    data = synthetic_csv(tmp_path / "walk.csv", "walk")
    out = tmp_path / "fc"
    an_hour_ago(monkeypatch, train_module)
    progress = train_module.main(
        ["--data", str(data), "--out", str(out), "--cell", "gru", "--lookback", str(LOOKBACK)]
        + ["--horizon", str(HORIZON), "--hidden-size", "8", "--attention-size", "4", "--batch-size", "64"]
        + ["--no-progress", "--logdir", str(tmp_path / "runs"), "--threads", "1", "--max-minutes", "30"]
    )
    assert progress["step"] == 1
    config = json.loads((out / "config.json").read_text())
    metrics = config["metrics"]
    assert metrics["val_windows"] == 64 < metrics["val_windows_planned"] == 2 * config["training"]["windows"]["val"]
    assert "fitted on 50 validation windows (of the" in config["training"]["calibration"]
    assert "on 64 of the" in (out / "MODEL_CARD.md").read_text()


class Clock:
    """Seconds that pass only when the fake translator works: 10 ms a source."""

    def __init__(self):
        self.now = 0.0


class SlowTranslator:
    def __init__(self, clock: Clock):
        self.clock = clock

    def translate(self, texts, beam_size, **options):
        self.clock.now += 0.01 * len(texts)
        return [SimpleNamespace(translation=t.upper()) for t in texts]


def test_a_bounded_evaluation_ends_in_time_on_a_sample_of_every_length():
    """A 5-second budget at 10 ms a source: about 500 of 2,000 sources fit. The evaluation ends
    within the budget, scores most of what fits, and its sources are a prefix of the spread
    order (short and long alike), shared out between the jobs. No budget: every source."""
    from training.limits import spread_order
    from training.translation.evaluate import hypotheses_within

    clock = Clock()
    sources = [f"{'w ' * (1 + i // 100)}{i}" for i in range(2000)]  # short to long, as Tatoeba's dev set
    jobs = {"a": (SlowTranslator(clock), sources), "b": (SlowTranslator(clock), sources[:1000])}
    done = hypotheses_within(jobs, 1, lambda: 5.0 - clock.now)  # type: ignore[arg-type]
    assert clock.now <= 5.0
    scored = {key: len(hyps) for key, hyps in done.items()}
    assert 350 <= sum(scored.values()) <= 500 and min(scored.values()) >= 128
    for key, (_, job_sources) in jobs.items():
        order = [job_sources[i] for i in spread_order(len(job_sources))]
        assert set(done[key]) == set(order[: scored[key]])
        assert done[key][order[0]] == order[0].upper()
        picked = sorted(job_sources.index(s) for s in done[key])
        assert picked[0] < len(job_sources) * 0.05 and picked[-1] > len(job_sources) * 0.95

    clock.now = 0.0  # a spent budget: the first batch of each job, no more
    done = hypotheses_within(jobs, 1, lambda: -1.0 - clock.now)  # type: ignore[arg-type]
    assert {key: len(hyps) for key, hyps in done.items()} == {"a": 64, "b": 64}

    done = hypotheses_within(jobs, 1, lambda: float("inf"))  # type: ignore[arg-type]
    assert {key: len(hyps) for key, hyps in done.items()} == {"a": 2000, "b": 1000}


def test_a_cut_score_is_compared_with_the_best_on_the_same_items():
    from training.limits import Evaluation
    from training.loop import EarlyStopping, _judge

    stopper = EarlyStopping(patience=3, higher_is_better=True, best=30.0)
    # 25 on 64 sources, where the best checkpoint scored 20: better, though below its 30 on all
    assert _judge(stopper, Evaluation(25.0, 64, 300, best_on_scored=20.0))[:2] == (True, False)
    assert stopper.best == 25.0 and stopper.bad == 0
    stopper = EarlyStopping(patience=3, higher_is_better=True, best=30.0)
    assert _judge(stopper, Evaluation(25.0, 64, 300, best_on_scored=27.0))[:2] == (False, False)
    assert (stopper.best, stopper.bad) == (30.0, 1)
    # without the best's score on those items: no comparison, the checkpoint stays, no plateau counted
    stopper = EarlyStopping(patience=1, higher_is_better=True, best=30.0)
    improved, stop, said = _judge(stopper, Evaluation(99.0, 64, 300))
    assert (improved, stop, stopper.best, stopper.bad) == (False, False, 30.0, 0) and "not comparable" in said
    # the first evaluation of a run, cut or not, is the best
    assert _judge(EarlyStopping(patience=3), Evaluation(1.0, 64, 300))[0]


def test_the_grace_is_the_larger_of_30_seconds_and_a_tenth_of_the_limit():
    from training.limits import Limits

    assert Limits.of(SimpleNamespace(max_minutes=None)) == Limits()
    short = Limits.of(SimpleNamespace(max_minutes=2, started=1000.0))
    assert (short.deadline, short.end) == (1120.0, 1150.0)
    long = Limits.of(SimpleNamespace(max_minutes=60, started=0.0))
    assert (long.deadline, long.end) == (3600.0, 3960.0)
    assert Limits().seconds_left()() == float("inf")
