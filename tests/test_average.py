"""Checkpoint averaging: snapshots taken during training, their mean written as a checkpoint."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from models.translation.translator import Translator
from tests.conftest import train_tiny
from training.state import drop_snapshots_after, snapshot_paths
from training.translation.average import main as average


def test_snapshots_kept_newest_and_averaged_into_a_loadable_checkpoint(tmp_path):
    run = train_tiny(tmp_path, steps_epochs=1, extra=["--snapshot-every", "7", "--keep-snapshots", "3"])
    snapshots = snapshot_paths(run / ".train")
    steps = [step for step, _ in snapshots]
    assert len(steps) == 3 and all(step % 7 == 0 for step in steps)
    final = json.loads((run / "config.json").read_text())["training"]["steps"]
    assert steps[-1] == final - final % 7  # the newest three, not the first three

    out = tmp_path / "averaged"
    result = average(["--run", str(run), "--last", "2", "--out", str(out), "--dev", str(tmp_path / "splits/dev.tsv")])
    assert result["steps"] == steps[-2:]
    one = average(["--run", str(run), "--steps", str(steps[0]), "--out", str(tmp_path / "first")])
    assert one["steps"] == steps[:1]
    first_weights = load_file(str(snapshots[0][1]))
    assert all(
        torch.equal(t, first_weights[n].half())
        for n, t in load_file(str(tmp_path / "first/model.safetensors")).items()
        if t.is_floating_point()
    )
    first, second = (load_file(str(path)) for _, path in snapshots[-2:])
    stored = load_file(str(out / "model.safetensors"))
    name = next(n for n in stored if stored[n].is_floating_point() and stored[n].dim() == 2)
    expected = ((first[name] + second[name]) / 2).half()
    assert torch.equal(stored[name], expected)
    assert not torch.equal(first[name], second[name])  # the mean is not just one of them

    config = json.loads((out / "config.json").read_text())
    assert config["training"]["averaged"]["steps"] == steps[-2:]
    assert config["id"] == "averaged"
    state = json.loads((run / ".train/state.json").read_text())["progress"]
    assert config["training"]["run_steps"] == state["step"] >= steps[-1]
    assert config["training"]["commands"] == state["commands"] and len(state["commands"]) == 1
    assert config["metrics"]["dev_bleu_greedy"] == pytest.approx(result["dev_bleu_greedy"], abs=0.01)
    assert "averaged" in (out / "MODEL_CARD.md").read_text()
    (translation,) = Translator.load(out).translate(["abc def"], beam_size=1)
    assert translation.translation.strip()


def test_too_few_or_missing_snapshots_are_errors_naming_what_there_is(tmp_path):
    with pytest.raises(ValueError, match="holds 0 snapshots"):
        average(["--run", str(tmp_path), "--last", "2", "--out", str(tmp_path / "out")])
    folder = tmp_path / ".train" / "snapshots"
    folder.mkdir(parents=True)
    save_file({"w": torch.zeros(1)}, str(folder / "step-0000100.safetensors"))
    with pytest.raises(ValueError, match="has steps 100; --steps asks for 100,200"):
        average(["--run", str(tmp_path), "--steps", "100,200", "--out", str(tmp_path / "out")])


def test_resume_drops_snapshots_from_after_the_saved_state(tmp_path):
    folder = tmp_path / "snapshots"
    folder.mkdir()
    for step in (100, 200, 300):
        save_file({"w": torch.zeros(1)}, str(folder / f"step-{step:07d}.safetensors"))
    drop_snapshots_after(tmp_path, 200)
    assert [step for step, _ in snapshot_paths(tmp_path)] == [100, 200]


def test_best_writes_the_runs_best_checkpoint_under_the_new_name(tmp_path):
    run = train_tiny(tmp_path, steps_epochs=1, extra=["--snapshot-every", "7", "--keep-snapshots", "2"])
    out = tmp_path / "shipped"
    result = average(["--run", str(run), "--best", "--out", str(out)])
    trained = json.loads((run / "config.json").read_text())["training"]["steps"]
    assert result["steps"] == [trained]
    best, stored = load_file(str(run / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert set(best) == set(stored) and all(torch.equal(best[n], stored[n]) for n in best)
    config = json.loads((out / "config.json").read_text())
    assert config["id"] == "shipped" and config["training"]["best"]["steps"] == [trained]
    assert "averaged" not in config["training"]
    assert f"best checkpoint (step {trained:,})" in (out / "MODEL_CARD.md").read_text()


def test_best_and_steps_together_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        average(["--run", str(tmp_path), "--best", "--steps", "100", "--out", str(tmp_path / "out")])
    assert "not allowed with argument" in capsys.readouterr().err
