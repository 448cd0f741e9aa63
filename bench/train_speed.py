"""Training speed and BLEU at equal wall time, side by side with Joey NMT 2.3.

    .venv/bin/python -m bench.train_speed [--minutes 3] [--threads 2]           # target tokens/s
    .venv/bin/python -m bench.train_speed --bleu --minutes 20 --parallel --threads 1
    .venv/bin/python -m bench.train_speed --device cuda --minutes 3             # on a GPU machine

Joey NMT lives only in work/peers/joey-venv, built on first use (pyproject.toml's torch pin first, then
joeynmt==2.3.0; pip log work/peers/joey-pip.log), never a dependency of the project. Both train
on our training split and length filter (training.translation.train's defaults) in the pieces of
checkpoints/translator-en-fr/spm.model (Joey: pre-tokenized files, the same 8000-piece vocabulary)
with our sizes: GRU, Bahdanau, shared embeddings 256, bidirectional encoder 2 x 256, decoder 512,
dropout 0.2, Adam 1e-3, label smoothing 0.1, clip 1.0, batches of 2000 padded tokens.

Throughput (default): ours, then Joey, --minutes each. --bleu: the same training (--parallel:
both at once), then greedy decoding of our test split (--beams 1,5 adds beam 5), scored for both
by training.translation.evaluate's score_pairs (sacreBLEU multi-reference BLEU and chrF on
detokenized text). Each run replaces its own section of --results.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import sentencepiece as spm
import torch

from bench.common import (
    PEERS,
    ROOT,
    SPM,
    BenchError,
    PeerVenv,
    length_filter,
    our_split,
    peer_env,
    python_output,
    rel,
    torch_pin,
    training_defaults,
)
from training.cli import parser
from training.common import command_line
from training.translation.data import group_references, read_pairs, write_pairs
from training.translation.evaluate import score_pairs

VENV, JOEY, SPLITS = PeerVenv("joey"), PEERS / "joey", PEERS / "splits"
OURS, PEER = "ours", "Joey NMT 2.3"
NOTE = """
Both count target tokens alike: non-pad target pieces, EOS included, BOS not. The 2000-token
budget differs: ours closes a batch before sentences x longest side (ids with EOS, plus BOS on
the target side) would pass 2000, within pools of ~100 batches sorted by length; Joey closes it
once sentences x (longest side in pieces + 1) reaches 2000, without length bucketing, so its
batches carry more padding (target tokens / batch; batches/s compares per-batch speed).
Joey's RNN decoder cannot tie its softmax to 256-wide embeddings under a 512 decoder (it
raises), so its output layer is untied, 512 -> 8000, and its attention and attentional vector
take the decoder's size (512; ours 256): hence its parameter count (`--joey-dec-hidden 256`
ties it, at half our decoder's size). Joey: constant lr 1e-3 ("exponential", decrease_factor
1.0), no warm-up (ours: 500 steps); fp16 on CUDA only (ours: bf16 where supported).
"""


def ensure_joey(args) -> tuple[str, str]:
    """-> (Joey's interpreter, its torch version): --joey-python's, else the venv's, built unless there."""
    check = "import joeynmt, torch; print(torch.__version__)"
    if args.device == "cuda":  # else Joey only warns and trains on the CPU
        check += "; assert torch.cuda.is_available(), 'torch beside joeynmt sees no GPU'"
    if args.joey_python:
        return args.joey_python, python_output(args.joey_python, check, required=True)  # type: ignore[return-value]  # required: never None
    torch_spec = torch_pin()
    torch_version = torch_spec.removeprefix("torch==")
    version = VENV.ensure(
        check + f"; assert torch.__version__.startswith({torch_version!r})",
        [
            ["install", torch_spec],  # first: nothing else picks torch
            ["install", "joeynmt==2.3.0", "importlib_metadata", torch_spec],
        ],
    )
    return str(VENV.python), version


def prepare(data: str) -> dict:
    """Our split and length filter as Joey's files: space-separated pieces, one sentence a line."""
    splits = our_split(data)
    sp = spm.SentencePieceProcessor(model_file=str(SPM))
    keep = length_filter(splits.train, sp)
    sources, streams = group_references(splits.test)
    JOEY.mkdir(parents=True, exist_ok=True)

    def pieces(rows):
        return [(sp.encode(s, out_type=str), sp.encode(t, out_type=str)) for s, t in rows]

    for name, rows in {"train": keep, "dev": pieces(splits.dev), "test": pieces(zip(sources, streams[0]))}.items():
        for i, lang in enumerate(("en", "fr")):
            (JOEY / f"{name}.{lang}").write_text("".join(" ".join(row[i]) + "\n" for row in rows), encoding="utf-8")
    (JOEY / "test.sources").write_text("".join(s + "\n" for s in sources), encoding="utf-8")
    write_pairs(JOEY / "test.tsv", splits.test)
    (JOEY / "vocab.txt").write_text("".join(sp.id_to_piece(i) + "\n" for i in range(len(sp))), encoding="utf-8")
    print(
        f"data: {len(keep)} training pairs ({len(splits.train) - len(keep)} over {training_defaults().max_len} "
        f"ids), {len(sources)} test sources / {len(splits.test)} pairs, vocabulary {len(sp)}",
        flush=True,
    )
    return {"train_pairs": len(keep), "vocab": len(sp)}


def joey_config(name: str, args, beam: int = 1, ckpt: Path | None = None) -> Path:
    """Joey's YAML config (written as JSON, which YAML reads); with ``ckpt``: decode the test split."""

    # "word" level reads our pre-tokenized pieces as they are (its sentencepiece tokenizer calls
    # SetVocabulary, which sentencepiece 0.2 no longer has); prepare() did the length filter
    def lang(code: str) -> dict:
        return {
            "lang": code,
            "level": "word",
            "voc_file": str(JOEY / "vocab.txt"),
            "lowercase": False,
            "normalize": False,
            "max_length": -1,
        }

    rnn = {"type": "recurrent", "rnn_type": "gru", "num_layers": 1, "dropout": 0.2}
    cfg = {
        "name": name,
        "joeynmt_version": "2.3.0",
        "model_dir": str(JOEY / name),
        "use_cuda": args.device == "cuda",
        "fp16": args.device == "cuda",
        "random_seed": training_defaults().seed,
        "data": {
            "train": str(JOEY / "train"),
            "dev": str(JOEY / "dev"),
            "test": str(JOEY / "test"),
            "dataset_type": "plain",
            "sample_dev_subset": 200,
            "src": lang("en"),
            "trg": lang("fr"),
        },
        "training": {
            "optimizer": "adam",
            "learning_rate": 1e-3,
            "learning_rate_min": 0.0,
            # constant lr: 2.3 refuses no scheduling, and "decaying" is StepLR(step_size=1, gamma=0.1)
            # stepped at epoch 1 (decaying_step_size never reaches it): lr 1e-4 from the first step
            "scheduling": "exponential",
            "decrease_factor": 1.0,
            "label_smoothing": 0.1,
            "normalization": "tokens",
            "clip_grad_norm": 1.0,
            "batch_size": 2000,
            "batch_type": "token",
            "epochs": 1000,
            "shuffle": True,
            "logging_freq": 10,
            "validation_freq": 10_000_000,
            "early_stopping_metric": "ppl",
            "keep_best_ckpts": 1,
            "overwrite": True,
            "num_workers": 0,
            "print_valid_sents": [],
        },
        "testing": {
            "beam_size": beam,
            "beam_alpha": 1.0,
            "batch_size": 64,
            "batch_type": "sentence",
            "eval_metrics": ["bleu", "chrf"],
            "sacrebleu_cfg": {"tokenize": "13a"},
        },
        "model": {
            "tied_embeddings": True,
            "tied_softmax": args.joey_dec_hidden == 256,
            "encoder": {
                **rnn,
                "hidden_size": 256,
                "bidirectional": True,  # per direction
                "embeddings": {"embedding_dim": 256, "scale": False},
            },
            "decoder": {
                **rnn,
                "hidden_size": args.joey_dec_hidden,
                "attention": "bahdanau",
                "input_feeding": True,
                "init_hidden": "bridge",
                "hidden_dropout": 0.2,
                "activation": "tanh",
                "embeddings": {"embedding_dim": 256, "scale": False},
            },
        },
    }
    if ckpt:
        cfg["testing"]["load_model"] = str(ckpt)
        del cfg["data"]["dev"]
    path = JOEY / (f"{name}.yaml" if ckpt is None else f"{name}.test-beam{beam}.yaml")
    path.write_text(json.dumps(cfg, indent=1))
    return path


def start_ours(name: str, args) -> subprocess.Popen:
    cmd = [
        "-m",
        "training.translation.train",
        "--data",
        Path(args.data).resolve(),
        "--out",
        PEERS / name,
        "--max-minutes",
        args.minutes,
        "--threads",
        args.threads,
        "--no-progress",
        "--eval-every",
        100000,
        "--splits-dir",
        SPLITS,
        "--logdir",
        PEERS / "runs" / name,
        "--device",
        args.device,
        "--cell",
        "gru",
        "--attention",
        "bahdanau",
        "--embed-size",
        256,
        "--hidden-size",
        512,
        "--layers",
        1,
        "--dropout",
        0.2,
        "--batch-tokens",
        2000,
        "--lr",
        1e-3,
        "--label-smoothing",
        0.1,
        "--clip",
        1.0,
        "--max-len",
        training_defaults().max_len,
    ]
    return launch(name, [sys.executable, *cmd], args.threads, "python " + " ".join(map(str, cmd)))


def start_joey(name: str, args, joey_py: str) -> subprocess.Popen:
    cfg = joey_config(name, args)
    return launch(
        name,
        [joey_py, "-m", "joeynmt", "train", cfg, "--skip-test"],
        args.threads,
        f"joeynmt train {rel(cfg)} --skip-test",
    )


def launch(name: str, cmd: list, threads: int, show: str) -> subprocess.Popen:
    log = PEERS / f"{name}.log"
    print(f"{show}  > {rel(log)}", flush=True)
    with open(log, "w") as out:
        # SIGINT back to its default in the child: a shell's background job inherits it ignored,
        # and Joey then never sees the SIGINT that ends its run at the deadline
        proc = subprocess.Popen(
            list(map(str, cmd)),
            cwd=ROOT,
            env=peer_env(threads),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    proc.name = name  # type: ignore[attr-defined]  # the log name, read back in finish()
    return proc


def finish(proc: subprocess.Popen, deadline: float | None) -> None:
    """Ours stops itself; Joey has no time limit: SIGINT at the deadline, which it catches to save
    latest.ckpt."""
    try:
        proc.wait(timeout=None if deadline is None else max(0.0, deadline - time.time()))
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=600)
    if proc.returncode not in (0, -signal.SIGINT):
        name = proc.name  # type: ignore[attr-defined]  # set by launch()
        raise BenchError(f"{name} failed ({proc.returncode}): see {rel(PEERS / (name + '.log'))}")


def train(args, mode: str, joey_py: str) -> dict:
    ours_name, joey_name = f"ours-{mode}-{args.device}", f"joey-{mode}-{args.device}"
    ours = start_ours(ours_name, args)
    if not args.parallel:
        finish(ours, None)
    joey = start_joey(joey_name, args, joey_py)
    finish(joey, time.time() + args.minutes * 60)  # Joey's deadline first: ours evaluates past its own
    finish(ours, None)
    return {OURS: read_ours(PEERS / ours_name), PEER: read_joey(JOEY / joey_name, joey_py)}


def read_ours(out: Path) -> dict:
    cfg = json.loads((out / "config.json").read_text())
    tr = cfg["training"]
    state = out / ".train" / "state.json"
    progress = json.loads(state.read_text())["progress"] if state.is_file() else {}
    tokens, steps = progress.get("target_tokens"), progress.get("step", tr.get("steps"))
    return {
        "params": cfg["parameters"],
        "device": tr["device"],
        "tok_s": tr["target_tokens_per_second"],
        "steps": steps,
        "train_min": progress.get("train_seconds", tr.get("minutes", 0) * 60) / 60,
        "tokens_per_batch": tokens / steps if tokens and steps else None,
        "same_spm": (out / "spm.model").read_bytes() == SPM.read_bytes(),
        "ckpt": out,
    }


def read_joey(model_dir: Path, joey_py: str) -> dict:
    text = (model_dir / "train.log").read_text()
    rates = [float(r) for r in re.findall(r"Tokens per Sec:\s+([\d.]+), Lr: 0.001000", text)]
    params = re.search(r"Total params: (\d+)", text)
    if not rates or not params:
        raise BenchError(f"no training log lines at lr 1e-3 from Joey: see {rel(model_dir / 'train.log')}")
    probe = (
        "import sys, torch; s = torch.load(sys.argv[1], map_location='cpu', weights_only=False)"
        "['stats_state']; print(s['steps'], s['total_tokens'])"
    )
    steps, tokens = map(
        int,
        subprocess.run(
            [joey_py, "-c", probe, str(model_dir / "latest.ckpt")],
            check=True,
            capture_output=True,
            text=True,
            env=peer_env(1),
        ).stdout.split(),
    )
    stamps = [
        time.mktime(time.strptime(m, "%Y-%m-%d %H:%M:%S"))
        for m in re.findall(
            r"^(\S+ \S+),\d+ - INFO - joeynmt.training - (?:EPOCH 1$|Interrupt|Training ended)", text, re.MULTILINE
        )
    ]
    return {
        "params": int(params.group(1)),
        "tok_s": sum(rates) / len(rates),
        "steps": steps,
        "train_min": (stamps[-1] - stamps[0]) / 60 if len(stamps) > 1 else float("nan"),
        "tokens_per_batch": tokens / steps,
        "ckpt": model_dir / "latest.ckpt",
    }


def fixed(table: dict[str, str]) -> SimpleNamespace:
    """A Translator stand-in that returns given hypotheses, so score_pairs scores both alike."""
    return SimpleNamespace(translate=lambda texts, beam_size=1: [SimpleNamespace(translation=table[t]) for t in texts])


def evaluate(args, figures: dict, joey_py: str) -> list[tuple]:
    """-> rows (system, decoding, BLEU, chrF, BLEU 1-ref, chrF 1-ref) on the same test split."""
    if (SPLITS / "test.tsv").read_bytes() != (JOEY / "test.tsv").read_bytes():
        raise BenchError("our training wrote another test split than the one Joey decodes")
    test, hyp_dir, rows = read_pairs(JOEY / "test.tsv"), PEERS / "hyp", []
    sources = (JOEY / "test.sources").read_text(encoding="utf-8").splitlines()
    sp = spm.SentencePieceProcessor(model_file=str(SPM))
    ours = figures[OURS]["ckpt"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "training.translation.evaluate",
            "--checkpoint",
            str(ours),
            "--test",
            str(JOEY / "test.tsv"),
            "--beams",
            args.beams,
            "--hyp-dir",
            str(hyp_dir),
            "--threads",
            str(args.threads),
        ],
        cwd=ROOT,
        env=peer_env(args.threads),
        check=True,
    )
    for beam in map(int, args.beams.split(",")):
        tag = "greedy" if beam == 1 else f"beam{beam}"
        lines = (hyp_dir / f"{ours.name}.{tag}.hyp.tsv").read_text(encoding="utf-8").splitlines()
        tables = {OURS: dict(line.split("\t", 1) for line in lines)}
        cfg = joey_config(figures[PEER]["ckpt"].parent.name, args, beam, figures[PEER]["ckpt"])
        out = hyp_dir / cfg.stem
        with open(f"{out}.log", "w") as log:
            done = subprocess.run(
                [joey_py, "-m", "joeynmt", "test", str(cfg), "-o", str(out)],
                check=False,
                cwd=ROOT,
                env=peer_env(args.threads),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if done.returncode:
            raise BenchError(f"joeynmt test failed: see {rel(f'{out}.log')}")
        hyps = Path(f"{out}.test").read_text(encoding="utf-8").splitlines()
        tables[PEER] = {src: sp.decode_pieces(hyp.split()) for src, hyp in zip(sources, hyps)}
        for system, table in tables.items():
            single: dict = {}
            bleu, chrf = score_pairs(fixed(table), test, beam, None, single)  # type: ignore[arg-type]  # a Translator stand-in, see fixed()
            rows.append((system, tag, bleu, chrf, single["bleu"], single["chrf"]))
    return rows


def write_section(path: Path, title: str, body: str) -> None:
    """Replace the section called ``title`` (or append it); other sections stay."""
    sections: dict[str, str] = {}
    if path.is_file():
        for chunk in re.split(r"(?m)^(?=## )", path.read_text())[1:]:
            sections[chunk.splitlines()[0]] = chunk.rstrip() + "\n"
    sections[f"## {title}"] = f"## {title}\n\n{body.strip()}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Training side by side with Joey NMT 2.3\n\nMade by `bench/train_speed.py`.\n\n"
        + "\n".join(sections.values())
    )
    print(f"wrote {rel(path)}: {title}")


def main(argv=None) -> None:
    p = parser("bench.train_speed", __doc__)
    p.add_argument("--minutes", type=float, default=3.0, help="wall time each system trains")
    p.add_argument("--bleu", action="store_true", help="test-split BLEU after --minutes, besides tokens/s")
    p.add_argument("--parallel", action="store_true", help="train both at once (with --threads 1 on 2 cores)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where both train")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch CPU threads for each")
    p.add_argument("--beams", default="1", help="--bleu decodings: 1 = greedy, 1,5 adds beam 5")
    p.add_argument("--joey-dec-hidden", type=int, default=512, help="256 lets Joey tie its softmax")
    p.add_argument(
        "--joey-python",
        help="an interpreter that has joeynmt 2.3 (e.g. where pip cannot build "
        "the venv: joeynmt's wheel carried onto a GPU machine's torch), instead of the venv",
    )
    p.add_argument("--data", default="../shared/data/fra.txt", help="source<TAB>target lines, split as training does")
    p.add_argument(
        "--results", default="bench/results/train_speed.md", help="markdown file whose section this run replaces"
    )
    args = p.parse_args(argv)
    try:
        report(args, ".venv/bin/" + command_line("bench.train_speed", argv))
    except BenchError as exc:
        sys.exit(f"bench.train_speed: {exc}")


def report(args, command: str) -> None:
    """Train both, score them with --bleu, write the section of --results and print its tables."""
    load = os.getloadavg()[0]
    joey_py, joey_torch = ensure_joey(args)
    data = prepare(args.data)
    figures = train(args, "bleu" if args.bleu else "speed", joey_py)
    ours, joey = figures[OURS], figures[PEER]
    if not ours["same_spm"]:
        print("warning: our run made a SentencePiece model other than checkpoints/translator-en-fr/spm.model")
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    where = ours["device"] if args.device == "cuda" else cpu.group(1) if cpu else "CPU"
    head = (
        f"`{command}`\n\n{where} ({os.cpu_count()} cores, 1-min load "
        f"average {load:.1f} before, {os.getloadavg()[0]:.1f} after training), {args.threads} thread(s) each, "
        f"{'both at once' if args.parallel else 'one after the other'}, {args.minutes:g} min each; "
        f"{data['train_pairs']:,} training pairs, {data['vocab']:,} shared pieces, batches of 2000 "
        f"padded tokens; torch {torch.__version__} (ours), {joey_torch} (Joey); "
        f"Joey decoder {args.joey_dec_hidden}, softmax {'tied' if args.joey_dec_hidden == 256 else 'untied'}\n\n"
    )
    table = (
        "| system | parameters | training min | steps | target tokens / batch | batches/s | target tokens/s |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n"
        + "".join(
            f"| {name} | {f['params']:,} | {f['train_min']:.1f} | {f['steps']:,} "
            f"| {f['tokens_per_batch'] or 0:,.0f} | {f['tok_s'] / (f['tokens_per_batch'] or 1e9):.2f} "
            f"| {f['tok_s']:,.0f} |\n"
            for name, f in figures.items()
        )
        + f"\nours / Joey: **{ours['tok_s'] / joey['tok_s']:.2f}x** target tokens/s\n"
    )
    title = (
        f"{'BLEU after ' + format(args.minutes, 'g') + ' min' if args.bleu else 'Throughput'}, {args.device}, "
        f"{args.threads} thread(s){' each, in parallel' if args.parallel else ''}"
        f"{'' if args.joey_dec_hidden == 512 else f', Joey decoder {args.joey_dec_hidden}'}"
    )
    if args.bleu:
        rows = evaluate(args, figures, joey_py)
        by = {(system, tag): bleu for system, tag, bleu, *_ in rows}
        table += (
            "\n| system | decoding | BLEU | chrF | BLEU 1-ref | chrF 1-ref |\n|---|---|---:|---:|---:|---:|\n"
            + "".join(f"| {s} | {d} | {b:.2f} | {c:.2f} | {b1:.2f} | {c1:.2f} |\n" for s, d, b, c, b1, c1 in rows)
            + "".join(
                f"\n{tag}: ours - Joey = **{by[(OURS, tag)] - by[(PEER, tag)]:+.2f} BLEU**\n"
                for tag in dict.fromkeys(tag for _, tag, *_ in rows)
            )
        )
    write_section(Path(args.results), title, head + table + NOTE)
    print(table)


if __name__ == "__main__":
    main()
