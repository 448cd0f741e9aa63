"""Command lines a new user meets first: every command's --help, the backtest's header and
output, a batch answer's attention plots, and evaluation before any split file exists."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import ROOT, reverse_pairs, synthetic_csv, untrained_forecaster_files, write_tsv

COMMAND_FILES = sorted(
    path
    for folder in ("training", "training/translation", "training/forecasting", "bench", "bench/peers")
    for path in (ROOT / folder).glob("*.py")
    if '__name__ == "__main__"' in path.read_text(encoding="utf-8")
)


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


class Built(Exception):
    """Raised in place of parsing: carries the parser a command built."""


@pytest.fixture
def built_parser(monkeypatch):
    """module name -> the ArgumentParser its entry point builds (stopped before parsing)."""

    def stop(self, args=None, namespace=None):
        raise Built(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", stop)
    monkeypatch.setenv("COLUMNS", "100")

    def build(module: str) -> argparse.ArgumentParser:
        loaded = importlib.import_module(module)
        entry = getattr(loaded, "parse_args", None) or loaded.main
        with pytest.raises(Built) as caught:
            entry([])
        return caught.value.args[0]

    return build


def test_every_command_line_goes_through_the_shared_parser():
    assert len(COMMAND_FILES) >= 15  # 8 training commands, 7 bench ones
    sources = [*(ROOT / "training").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
    direct = [path for path in sources if "ArgumentParser(" in path.read_text(encoding="utf-8")]
    assert direct == [ROOT / "training" / "cli.py"]


def help_entries(text: str) -> dict[str, str]:
    """--help's option section -> {first flag: its help text (wrapped lines joined)}."""
    entries: dict[str, str] = {}
    flag = None
    for line in text.split("\noptions:\n", 1)[1].splitlines():
        match = re.match(r"  (-\S.*?)(?:\s{2,}(.*))?$", line)  # "  --flag METAVAR   help"
        if match:
            flag = match.group(1).split()[0].rstrip(",")
            entries[flag] = match.group(2) or ""
        elif flag and line.strip():
            entries[flag] = f"{entries[flag]} {line.strip()}".strip()
    return entries


@pytest.mark.parametrize("path", COMMAND_FILES, ids=module_name)
def test_help_names_the_command_and_explains_every_option_with_its_default(path, built_parser):
    module = module_name(path)
    parser = built_parser(module)
    assert parser.prog == f"python -m {module}"
    text = parser.format_help()
    assert text.startswith(f"usage: python -m {module} ")
    doc = importlib.import_module(module).__doc__
    assert doc.strip() in text  # the docstring as written, line breaks kept
    joined = [line for line in doc.splitlines() if re.search(r"\S {4,}--?\w", line)]
    assert not joined, f"a usage example lost its line break (a lone backslash at a line end?): {joined}"
    entries = help_entries(text)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        flag = action.option_strings[0]
        assert action.help and "\n" not in action.help, f"{module} {flag}: no one-line help"
        assert " ".join(action.help.split()) in entries[flag], (module, flag, entries[flag])
        if action.default not in (None, False, argparse.SUPPRESS):
            assert entries[flag].endswith(f"(default: {action.default})"), (module, flag, entries[flag])
            assert not re.search(r"\bdefault", action.help), f"{module} {flag}: default written twice"


def test_help_runs_as_the_command_a_user_types():
    done = subprocess.run(
        [sys.executable, "-m", "training.forecasting.backtest", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m training.forecasting.backtest ")
    assert help_entries(done.stdout)["--csv"].endswith("(default: work/backtest_per_ticker.csv)")


# ---- training.forecasting.backtest: an honest header, the table last, the CSV under work/ -------------------


@pytest.fixture(scope="module")
def untrained_forecaster(tmp_path_factory):
    """(price CSV of T0, T1, T2, checkpoint that held T1 out of training on that file's name)."""
    return untrained_forecaster_files(tmp_path_factory.mktemp("backtest"), 3, ["T1"])


def run_backtest(capsys, data, checkpoint, *extra) -> list[str]:
    from training.forecasting.backtest import main

    main(["--checkpoint", str(checkpoint), "--data", str(data), "--last-days", "30", "--horizons", "1,3", *extra])
    return capsys.readouterr().out.rstrip("\n").splitlines()


@pytest.mark.parametrize(
    "tickers, phrase",
    [
        (["--tickers", "T0,T1,T2"], "of 3 tickers given (1 held out of training, 2 trained on);"),
        (["--tickers", "T1"], "of 1 ticker given (held out of training);"),
        (["--tickers", "T0", "T2"], "of 2 tickers given (all trained on);"),
        ([], "of 1 ticker (held out of training);"),
    ],
)
def test_backtest_header_says_how_many_tickers_were_held_out(untrained_forecaster, tmp_path, capsys, tickers, phrase):
    data, checkpoint = untrained_forecaster
    lines = run_backtest(capsys, data, checkpoint, *tickers, "--csv", str(tmp_path / "rows.csv"))
    [header] = [line for line in lines if line.startswith("Walk-forward")]
    assert f"over the last 30 days {phrase}" in header, header
    assert "trained on prices.csv" not in header  # same data file: no note


def test_backtest_ends_with_the_table_and_writes_its_csv_under_work(
    untrained_forecaster, tmp_path, capsys, monkeypatch
):
    data, checkpoint = untrained_forecaster
    monkeypatch.chdir(tmp_path)
    lines = run_backtest(capsys, data, checkpoint)
    assert (tmp_path / "work" / "backtest_per_ticker.csv").is_file()
    assert lines[0] == "per-ticker rows: work/backtest_per_ticker.csv"
    [start] = [i for i, line in enumerate(lines) if line.startswith("| h | method | MAE / naive |")]
    rows = lines[start + 2 :]
    assert [(r.split(" | ")[0], r.split(" | ")[1]) for r in rows] == [
        (f"| {h}", m) for h in (1, 3) for m in ("model", "naive", "drift", "garch")
    ]
    assert not any(line.lstrip().startswith("{") for line in lines)  # no raw JSON after the table


def test_backtest_notes_other_data_and_refuses_unknown_tickers(untrained_forecaster, tmp_path, capsys):
    from training.forecasting.backtest import main

    data, checkpoint = untrained_forecaster
    other = synthetic_csv(tmp_path / "other.csv", "walk", tickers=2, days=140, seed=6)
    lines = run_backtest(capsys, other, checkpoint, "--tickers", "T0", "--csv", str(tmp_path / "rows.csv"))
    assert "of 1 ticker given (trained on); the checkpoint trained on prices.csv, not other.csv;" in lines[2]
    with pytest.raises(SystemExit, match="not in the data: T7"):
        main(["--checkpoint", str(checkpoint), "--data", str(data), "--tickers", "T0,T7"])


# ---- training.translation.plot_attention: a batch answer gives one file per result ------------------------


def answer(rows: int, cols: int, translation: str) -> dict:
    weights = [[(1.0 + r + 2 * c) / 10 for c in range(cols)] for r in range(rows)]
    return {
        "translation": translation,
        "source_tokens": [f"▁s{c}" for c in range(cols)],
        "target_tokens": [f"▁t{r}" for r in range(rows)],
        "attention": weights,
    }


def test_plot_attention_draws_words_by_default_and_pieces_when_asked(tmp_path, capsys):
    from training.translation.plot_attention import between, main

    split = {
        "translation": "Bonjour Sarah",
        "source_tokens": ["▁Hi", "▁Sa", "ra", "h", "</s>"],
        "target_tokens": ["▁Bon", "jour", "▁Sa", "rah", "</s>"],
        "attention": [
            [0.6, 0.1, 0.1, 0.1, 0.1],
            [0.5, 0.2, 0.1, 0.1, 0.1],
            [0.0, 0.5, 0.3, 0.2, 0.0],
            [0.0, 0.2, 0.2, 0.6, 0.0],
            [0.0, 0.0, 0.0, 0.0, 1.0],
        ],
    }
    attention, target, source = between(split, "words")
    assert (target, source) == (["Bonjour", "Sarah", "</s>"], ["Hi", "Sarah", "</s>"])
    assert attention[0] == pytest.approx([0.55, 0.35, 0.1])  # mean of Bon/jour's rows, Sa+ra+h summed
    saved = tmp_path / "split.json"
    saved.write_text(json.dumps(split))
    main(["--response", str(saved), "--out", str(tmp_path / "w.png")])
    main(["--response", str(saved), "--out", str(tmp_path / "p.png"), "--level", "pieces"])
    said = capsys.readouterr().out.splitlines()
    assert said == [f"wrote {tmp_path / 'w.png'} (3 x 3 words)", f"wrote {tmp_path / 'p.png'} (5 x 5 pieces)"]
    assert (tmp_path / "w.png").read_bytes() != (tmp_path / "p.png").read_bytes()


def test_a_batch_answer_plots_every_result_to_a_numbered_file(tmp_path, capsys):
    from training.translation.plot_attention import main

    saved = tmp_path / "batch.json"
    saved.write_text(json.dumps({"results": [answer(2, 3, "un"), answer(4, 2, "deux"), answer(3, 3, "trois")]}))
    written = main(["--response", str(saved), "--out", str(tmp_path / "plots" / "attention.png")])
    expected = [tmp_path / "plots" / f"attention-{i}.png" for i in (1, 2, 3)]
    assert written == expected
    images = [path.read_bytes() for path in expected]
    assert all(image[:8] == b"\x89PNG\r\n\x1a\n" for image in images) and len(set(images)) == 3
    assert not (tmp_path / "plots" / "attention.png").exists()
    said = capsys.readouterr().out.splitlines()
    assert said == [f"wrote {path} ({shape} words)" for path, shape in zip(expected, ("2 x 3", "4 x 2", "3 x 3"))]

    single = tmp_path / "one.json"
    single.write_text(json.dumps(answer(2, 2, "seul")))
    assert main(["--response", str(single), "--out", str(tmp_path / "one.png")]) == [tmp_path / "one.png"]

    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"results": []}))
    with pytest.raises(SystemExit) as caught:
        main(["--response", str(empty), "--out", str(tmp_path / "none.png")])
    assert caught.value.code == 2 and "no results" in capsys.readouterr().err


# ---- training.translation.evaluate: missing split files, progress -----------------------------


def test_a_missing_split_names_the_command_that_writes_it(tmp_path):
    from training.translation.evaluate import main
    from training.translation.novelty import main as novelty

    test = tmp_path / "splits" / "test.tsv"
    with pytest.raises(SystemExit) as caught:
        main(["--checkpoint", str(tmp_path / "no-checkpoint"), "--test", str(test)])
    message = str(caught.value.code)
    assert "\n" not in message and message.startswith(f"training.translation.evaluate: {test} does not exist")
    command = shlex.split(message.split("by: ", 1)[1])
    assert command[:3] == ["python", "-m", "training.translation.novelty"]
    args = command[3:]
    assert args[args.index("--splits-dir") + 1] == str(test.parent)
    args[args.index("--data") + 1] = str(write_tsv(tmp_path / "pairs.tsv", reverse_pairs(300, seed=2)))
    novelty([*args, "--dev-size", "20", "--test-size", "30"])  # the named command, on tiny data
    assert test.is_file() and (test.parent / "test_novel.tsv").is_file()

    with pytest.raises(SystemExit, match=r"other\.tsv: no such file$"):
        main(["--checkpoint", "unused", "--test", str(tmp_path / "other.tsv")])


def test_evaluation_reports_progress_on_stderr(tmp_path, capsys, monkeypatch):
    import training.translation.evaluate as evaluation

    pairs = reverse_pairs(400, seed=4)
    sources = len({s for s, _ in pairs})
    stand_in = SimpleNamespace(
        id="stand-in",
        multilingual=False,
        no_repeat_ngram=0,
        translate=lambda texts, beam_size=1, no_repeat_ngram=None: [SimpleNamespace(translation=t) for t in texts],
    )
    monkeypatch.setattr(evaluation.Translator, "load", classmethod(lambda cls, directory: stand_in))
    test = write_tsv(tmp_path / "test.tsv", pairs)
    argv = ["--checkpoint", "unused", "--test", str(test), "--beams", "1", "--hyp-dir", str(tmp_path / "hyps")]
    evaluation.main([*argv, "--progress-every", "100"])
    lines = capsys.readouterr().err.splitlines()
    done = [int(m.group(1)) for m in (re.match(rf"stand-in greedy: (\d+)/{sources} sources", x) for x in lines) if m]
    assert len(done) >= 2 and done == sorted(set(done)) and done[-1] < sources, lines
    evaluation.main([*argv, "--progress-every", "0"])
    assert "sources," not in capsys.readouterr().err


def test_every_command_a_shipped_model_card_shows_names_a_module_that_exists():
    """Cards show the commands that built a checkpoint (recorded in config.json, some under the
    flat layout's names, training.card renders them under today's): each must still run."""
    cards = sorted((ROOT / "checkpoints").glob("*/MODEL_CARD.md"))
    modules = {m for card in cards for m in re.findall(r"python -m ([\w.]+)", card.read_text(encoding="utf-8"))}
    assert len(cards) >= 3 and {"training.translation.train", "training.forecasting.train"} <= modules
    missing = sorted(m for m in modules if importlib.util.find_spec(m) is None)
    assert not missing, missing
