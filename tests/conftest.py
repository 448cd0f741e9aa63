"""Shared fixtures: a tiny translator trained in seconds on a synthetic reversal language.

The language: sentences of 3-8 letter-words drawn from a small alphabet; the "translation"
is the same words in reverse order, upper-cased. It needs real alignment (anti-diagonal
attention) and a small model learns it within a few hundred steps.

The tiny models are trained deterministically and past their tests' thresholds (issue 24):

* one torch thread, set and given back around each training (``torch_threads``): a float sum
  split over intra-op threads comes out in another order, so a tiny run followed whatever thread
  count the machine or an earlier test (app settings, ``--threads``) had left, and results
  depended on the test order;
* a stopping rule on the run's own dev BLEU (``train_tiny(stop_at_dev_bleu=...)``): the run
  goes on epoch by epoch (``--resume``, which continues exactly) until its best checkpoint
  reads the dev set nearly perfectly, so a machine whose CPU kernels give other floats still
  ends far past the thresholds, only an epoch or two later;
* the tests that check what a tiny model learnt are marked ``tiny_model``; CI runs each alone
  (``.ci/tiny-alone.sh``) besides the whole suite, and they run on one thread as well.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

WORDS = ["ab", "cd", "ef", "gh", "ij", "kl", "mn", "op", "qr", "st", "uv", "wx"]

TRAIN_THREADS = 1  # torch threads of every tiny training (and of the tiny_model tests' checks)
DEV_BLEU_ALL_EXACT = 99.9  # greedy dev BLEU this high: (all but a token of) every dev sentence exact


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        "tiny_model: checks what a tiny model trained in the session learnt (thresholds on its "
        "output); CI also runs each one alone (.ci/tiny-alone.sh)",
    )


@contextlib.contextmanager
def torch_threads(n: int):
    """Run the body with ``n`` torch intra-op threads, then give back the count found."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _tiny_model_threads(request):
    """A ``tiny_model`` test reads its model on TRAIN_THREADS threads, whatever the tests before
    it left behind (an app sets its own count): the same floats alone and in the full run."""
    if request.node.get_closest_marker("tiny_model") is None:
        yield
        return
    with torch_threads(TRAIN_THREADS):
        yield


def reverse_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 8))]
        pairs.append((" ".join(words), " ".join(w.upper() for w in reversed(words))))
    return pairs


def write_tsv(path: Path, pairs: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    return path


def train_tiny(
    tmp: Path,
    attention: str = "bahdanau",
    cell: str = "gru",
    steps_epochs: int = 6,
    extra: list[str] | None = None,
    pairs: list[tuple[str, str]] | None = None,
    stop_at_dev_bleu: float | None = None,
    max_epochs: int = 0,
) -> Path:
    """Train a tiny translator with the real training command (on ``pairs``, by default the
    reversal language) on TRAIN_THREADS threads; returns its checkpoint folder.

    ``steps_epochs`` epochs; with ``stop_at_dev_bleu``, then one more epoch at a time (the run
    resumed, as if uninterrupted) until the best checkpoint's dev BLEU reaches it or the run has
    had ``max_epochs``."""
    from training.translation.train import main

    data = write_tsv(tmp / "pairs.tsv", pairs or reverse_pairs(4000, seed=7))
    out = tmp / f"tiny-{attention}-{cell}"
    args = [
        "--data",
        str(data),
        "--out",
        str(out),
        "--attention",
        attention,
        "--cell",
        cell,
        "--vocab-size",
        "400",
        "--embed-size",
        "32",
        "--hidden-size",
        "64",
        "--attention-size",
        "32",
        "--dropout",
        "0.0",
        "--batch-tokens",
        "600",
        "--warmup",
        "50",
        "--lr",
        "0.005",
        "--dev-size",
        "100",
        "--test-size",
        "100",
        "--eval-every",
        "100000",
        "--patience",
        "100",
        "--splits-dir",
        str(tmp / "splits"),
        "--logdir",
        str(tmp / "runs"),
        "--no-progress",
        "--source-lang",
        "en",
        "--target-lang",
        "fr",
        "--no-copy",  # the reversal language never copies (its output is upper case)
        "--noise",  # nor has casing or punctuation to vary; noise would only reorder the
        "0",  # batches, and this tiny run is sensitive to their order
        "--threads",
        str(TRAIN_THREADS),
        *(extra or []),
    ]
    epochs = steps_epochs
    with torch_threads(TRAIN_THREADS):
        progress = main([*args, "--epochs", str(epochs)])
        while stop_at_dev_bleu is not None and progress["best"] < stop_at_dev_bleu and epochs < max_epochs:
            epochs += 1
            progress = main([*args, "--epochs", str(epochs), "--resume"])
    return out


def multilingual_files(tmp: Path, n: int = 3000) -> list[str]:
    """Two made-up languages beside the synthetic "English" (lower-case words): "fr" writes the
    words upper-cased in reverse order, "de" upper-cased in the same order, so only the
    language token tells the two apart. -> ``--data`` specs, LANG=PATH."""
    en = [s for s, _ in reverse_pairs(n, seed=11)]
    fr = [(s, " ".join(w.upper() for w in reversed(s.split()))) for s in en]
    de = [(s, s.upper()) for s in en]
    return [f"fr={write_tsv(tmp / 'fr.tsv', fr)}", f"de={write_tsv(tmp / 'de.tsv', de)}"]


def train_tiny_multilingual(
    tmp: Path, steps: int = 700, stop_at_dev_bleu: float | None = None, more: int = 100, max_steps: int = 0
) -> Path:
    """A tiny multilingual translator (en->fr, fr->en, en->de) trained with the real command on
    TRAIN_THREADS threads: ``steps`` steps; with ``stop_at_dev_bleu``, then ``more`` steps at a
    time (resumed) until every direction's dev BLEU in the best checkpoint reaches it, or
    ``max_steps``."""
    from training.translation.train import main

    out = tmp / "tiny-multi"
    args = [
        *("--data", *multilingual_files(tmp)),
        *("--directions", "en-fr", "fr-en", "en-de"),
        *("--out", str(out), "--vocab-size", "400", "--embed-size", "32", "--hidden-size", "64"),
        *("--attention-size", "32", "--dropout", "0.0", "--batch-tokens", "600"),
        *("--warmup", "50", "--lr", "0.005", "--dev-size", "50", "--test-size", "50", "--eval-every", "100000"),
        *("--patience", "100", "--splits-dir", str(tmp / "splits"), "--logdir", str(tmp / "runs")),
        *("--no-progress", "--no-copy", "--noise", "0", "--threads", str(TRAIN_THREADS)),
    ]

    def worst_direction() -> float:
        metrics = json.loads((out / "config.json").read_text())["metrics"]
        return min(v for k, v in metrics.items() if k.endswith(".dev_bleu_greedy"))

    with torch_threads(TRAIN_THREADS):
        main([*args, "--max-steps", str(steps)])
        while stop_at_dev_bleu is not None and worst_direction() < stop_at_dev_bleu and steps < max_steps:
            steps += more
            main([*args, "--max-steps", str(steps), "--resume"])
    return out


@pytest.fixture(scope="session")
def tiny_multilingual_dir(tmp_path_factory) -> Path:
    """A trained tiny multilingual checkpoint folder (session-wide, read-only): 700 steps, then on
    by 100 until every direction reads its dev set exactly, at most 1500 (800-900 measured)."""
    return train_tiny_multilingual(
        tmp_path_factory.mktemp("tiny-multi"), stop_at_dev_bleu=DEV_BLEU_ALL_EXACT, max_steps=1500
    )


@pytest.fixture(scope="session")
def tiny_translator_dir(tmp_path_factory) -> Path:
    """A trained bahdanau/GRU checkpoint folder on the reversal language (session-wide, read-only):
    6 epochs, then on until it translates all 100 dev sentences exactly (dev BLEU 100), at most 14.
    The 6 epochs alone ended between 17 and 30 of 30 exact depending on the CPU kernels; the rule
    stops after 8 epochs with every kernel measured, at 30 of 30."""
    return train_tiny(tmp_path_factory.mktemp("tiny"), stop_at_dev_bleu=DEV_BLEU_ALL_EXACT, max_epochs=14)


@pytest.fixture(scope="session")
def tiny_marks_dir(tiny_translator_dir, tmp_path_factory) -> Path:
    """The tiny translator with a config that says it carries placeholder marks (it never learnt
    to write them: the pipeline must lose nothing whatever it writes)."""
    import json
    import shutil

    from models.checkpoint import write_manifest
    from models.text.marks import PIECES

    folder = tmp_path_factory.mktemp("marks") / "translator-marks"
    shutil.copytree(tiny_translator_dir, folder, ignore=shutil.ignore_patterns(".train"))
    config = json.loads((folder / "config.json").read_text())
    config["placeholders"] = {"marks": list(PIECES)}
    (folder / "config.json").write_text(json.dumps(config))
    write_manifest(folder)
    return folder


@pytest.fixture
def tiny_translator_copy(tiny_translator_dir, tmp_path) -> Path:
    """A private copy of the tiny checkpoint that a test may damage."""
    import shutil

    target = tmp_path / "translator-copy"
    shutil.copytree(tiny_translator_dir, target, ignore=shutil.ignore_patterns(".train"))
    return target


# ---- forecaster fixtures: noisy sines and random walks ------------------------------------------

LOOKBACK, HORIZON = 20, 5


def synthetic_csv(path, kind: str, tickers: int = 8, days: int = 400, seed: int = 0):
    """Kaggle-format CSV (date,open,high,low,close,volume,Name) of noisy sines or random walks."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2015-01-01", periods=days)
    rows = []
    for k in range(tickers):
        if kind == "sine":
            logp = 0.05 * np.sin(np.arange(days) / 5 + k) + rng.normal(0, 0.002, days)
        else:
            logp = np.cumsum(rng.normal(0, 0.01, days))
        close = 50 * (k + 1) * np.exp(logp)
        rows += [
            {"date": d.date().isoformat(), "open": c, "high": c, "low": c, "close": c, "volume": 1000, "Name": f"T{k}"}
            for d, c in zip(dates, close)
        ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def untrained_forecaster_files(root: Path, tickers: int, held: list[str]) -> tuple[Path, Path]:
    """(random-walk price CSV of T0..T<tickers-1>, checkpoint of an untrained tiny GRU forecaster
    that says it trained on that file's name and held ``held`` out of training)."""
    from models.checkpoint import save_checkpoint
    from models.forecasting.forecast_net import ForecastNet, ForecastNetConfig

    data = synthetic_csv(root / "prices.csv", "walk", tickers=tickers, days=140, seed=5)
    torch.manual_seed(0)
    config = ForecastNetConfig(cell="gru", lookback=LOOKBACK, horizon=HORIZON, hidden_size=8, attention_size=4)
    meta = {
        "task": "forecast",
        "id": "fc-cli",
        "architecture": config.to_dict(),
        "training": {"data": "prices.csv", "heldout_tickers": held},
    }
    return data, save_checkpoint(root / "fc-cli", ForecastNet(config).eval(), meta, "# test\n", dtype=torch.float32)


def train_tiny_forecaster(tmp, kind: str):
    """A tiny GRU forecaster trained on 8 noisy sines or random walks, on TRAIN_THREADS threads."""
    from training.forecasting.train import main

    data = synthetic_csv(tmp / f"{kind}.csv", kind)
    out = tmp / f"forecaster-{kind}"
    with torch_threads(TRAIN_THREADS):
        main(
            [
                "--data",
                str(data),
                "--out",
                str(out),
                "--cell",
                "gru",
                "--lookback",
                str(LOOKBACK),
                "--horizon",
                str(HORIZON),
                "--hidden-size",
                "16",
                "--attention-size",
                "8",
                "--epochs",
                "4",
                "--batch-size",
                "64",
                "--lr",
                "0.01",
                "--stride",
                "1",
                "--no-progress",
                "--logdir",
                str(tmp / "runs"),
                "--threads",
                str(TRAIN_THREADS),
            ]
        )
    return data, out


@pytest.fixture(scope="session")
def untrained_forecaster_dir(tmp_path_factory) -> Path:
    """A checkpoint folder holding one untrained tiny GRU forecaster, "fc" (seconds to make): for
    the API's rules, which do not depend on the weights."""
    from models.checkpoint import save_checkpoint
    from models.forecasting.forecast_net import ForecastNet, ForecastNetConfig

    torch.manual_seed(0)
    net = ForecastNet(ForecastNetConfig(cell="gru", lookback=LOOKBACK, horizon=HORIZON, hidden_size=8)).eval()
    root = tmp_path_factory.mktemp("untrained-forecaster")
    config = {"task": "forecast", "id": "fc", "architecture": net.config.to_dict()}
    save_checkpoint(root / "fc", net, config, "# untrained test forecaster\n", dtype=torch.float32)
    return root


@pytest.fixture
def seen(client, monkeypatch):
    """The series (arrays or Bars) the test module's ``client`` hands its forecaster "fc"'s
    predict(), request by request."""
    model = client.app.state.registry.forecasters["fc"]
    calls: list = []
    original = model.predict

    def spy(series, horizon, interval):
        calls.extend(series)
        return original(series, horizon, interval)

    monkeypatch.setattr(model, "predict", spy)
    return calls


@pytest.fixture(scope="session")
def both_models_dir(tiny_translator_dir, tmp_path_factory) -> Path:
    """A checkpoint folder serving the tiny translator and a tiny sine forecaster (symlinks)."""
    _, forecaster = train_tiny_forecaster(tmp_path_factory.mktemp("forecaster"), "sine")
    root = tmp_path_factory.mktemp("both-models")
    for source in (tiny_translator_dir, forecaster):
        (root / source.name).symlink_to(source)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ROOT = Path(__file__).resolve().parents[1]


def served_translator(directory: Path):
    """The translator in ``directory`` as a server with default settings serves it: with the
    weights ``ATTNSERVE_WEIGHTS`` names (int8 by default)."""
    from app.core.config import Settings
    from models.translation.translator import Translator

    translator = Translator.load(directory)
    return translator.quantized() if Settings().weights == "int8" else translator


def start_uvicorn(env: dict[str, str], log) -> tuple[subprocess.Popen, str]:
    """`uvicorn app.main:app` on a free port with ``env`` added, output to the binary file ``log``;
    returns (process, base URL) once /readyz answers 200, else fails the test with the log's tail."""
    import httpx

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-proxy-headers",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            break
        time.sleep(0.1)
    server.kill()
    server.wait()
    log.seek(0)
    pytest.fail(f"server did not become ready:\n{log.read().decode()[-2000:]}")


@pytest.fixture(scope="module")
def multi_client(tiny_multilingual_dir):
    """A server of the tiny multilingual checkpoint alone, default settings (one per test module)."""
    from fastapi.testclient import TestClient

    from app.core.config import Settings
    from app.main import create_app

    settings = Settings(checkpoint_dir=tiny_multilingual_dir.parent, models=[tiny_multilingual_dir.name])
    with TestClient(create_app(settings)) as client:
        yield client
