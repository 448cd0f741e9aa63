"""Side by side with OpenNMT-py's REST server: same data, same vocabulary, same layer sizes.

    .venv/bin/python -m bench.peers.onmt [--train-minutes 5] [--seconds 10] [--clients 16]
        [--data ../shared/data/fra.txt] [--threads 2] [--float32]

Builds a separate venv at work/peers/onmt-venv (pyproject.toml's torch pin first, then OpenNMT-py==3.0.4
and sentencepiece; never a dependency of the project), pre-tokenizes our training split with our
SentencePiece model, trains an ONMT GRU of our layer sizes for --train-minutes on CPU, serves it
with `onmt_server` on 127.0.0.1 and drives it and our server, one after the other, with --clients
asyncio clients (one sentence per request, beam 5 and greedy). Writes bench/results/onmt.md.
--train-minutes 0 reuses the newest checkpoint of an earlier run.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import sentencepiece as spm

from bench.common import (
    CHECKPOINTS,
    PEERS,
    ROOT,
    SENTENCES,
    SPM,
    BenchError,
    Call,
    PeerVenv,
    ServerProcess,
    attnserve,
    drive,
    length_filter,
    our_split,
    peer_env,
    python_output,
    rel,
    torch_pin,
    training_defaults,
    translate_call,
)
from training.cli import parser
from training.common import command_line

VENV, DIR = PeerVenv("onmt"), PEERS / "onmt"
ONMT = "ONMT-py 3.0.4"


def ensure_venv() -> None:
    torch_spec = torch_pin()
    torch_version = torch_spec.removeprefix("torch==")
    VENV.ensure(
        f"import onmt, sentencepiece, torch; assert torch.__version__.startswith({torch_version!r})",
        [
            ["install", torch_spec],  # the CPU wheel first: nothing pulls CUDA wheels
            ["install", torch_spec, "OpenNMT-py==3.0.4", "sentencepiece==0.2.3"],
            ["check"],
        ],
    )


def prepare_data(path: str) -> None:
    """Our training split and length filter (training.translation.train's defaults) as space-joined
    SentencePiece pieces, and a vocab file holding all 8000 pieces of our model."""
    sp = spm.SentencePieceProcessor(model_file=str(SPM))
    pairs = our_split(path).train
    kept = length_filter(pairs, sp)
    print(
        f"data: {len(pairs)} training pairs, {len(pairs) - len(kept)} over {training_defaults().max_len} pieces removed"
    )
    DIR.mkdir(parents=True, exist_ok=True)
    for side, i in (("src", 0), ("tgt", 1)):
        (DIR / f"train.{side}").write_text("".join(" ".join(p[i]) + "\n" for p in kept), encoding="utf-8")
    counts = collections.Counter(piece for s, t in kept for piece in s + t)
    pieces = [sp.id_to_piece(i) for i in range(len(sp)) if not sp.is_control(i) and not sp.is_unknown(i)]
    pieces.sort(key=lambda p: -counts[p])  # ONMT adds its own <unk> <blank> <s> </s>
    (DIR / "vocab.txt").write_text("".join(f"{p}\t{counts[p]}\n" for p in pieces), encoding="utf-8")
    print(f"vocab: {len(pieces)} pieces of our model + ONMT's 4 specials, {len(kept)} training pairs written")


def train(minutes: float, threads: int, loads: list[float]) -> tuple[Path, dict]:
    """ONMT trained for ``minutes`` (0: the earlier run's); -> its newest loadable checkpoint and
    figures from its log. Appends 1-min load averages to ``loads`` while it trains."""
    config = {  # our architecture in ONMT's terms; docs/results/serving.md says what cannot match exactly
        "save_data": str(DIR),
        "src_vocab": str(DIR / "vocab.txt"),
        "share_vocab": True,
        "data": {"corpus_1": {"path_src": str(DIR / "train.src"), "path_tgt": str(DIR / "train.tgt")}},
        "src_seq_length": 1000,
        "tgt_seq_length": 1000,
        "encoder_type": "brnn",
        "decoder_type": "rnn",
        "rnn_type": "GRU",
        "layers": 1,
        "enc_hid_size": 512,
        "dec_hid_size": 512,
        "word_vec_size": 256,
        "global_attention": "mlp",
        "input_feed": 1,
        "share_embeddings": True,
        "dropout": [0.2],
        "batch_type": "tokens",
        "batch_size": 2000,
        "normalization": "tokens",
        "num_workers": 0,
        "bucket_size": 32768,
        "optim": "adam",
        "learning_rate": 0.001,
        "max_grad_norm": 1.0,
        "label_smoothing": 0.1,
        "param_init": 0,
        "param_init_glorot": True,
        "seed": training_defaults().seed,
        "train_steps": 1_000_000,
        "valid_steps": 1_000_000,
        "report_every": 10,
        "save_model": str(DIR / "model"),
        "save_checkpoint_steps": 10,
        "keep_checkpoint": 3,
    }
    log = DIR / "train.log"
    if minutes > 0:
        (DIR / "train.minutes").write_text(f"{minutes:g}")
        for old in DIR.glob("model_step_*.pt"):
            old.unlink()
        (DIR / "train.yaml").write_text(json.dumps(config, indent=1))  # JSON is YAML
        print(
            f"$ {VENV.tool('onmt_train')} -config {DIR / 'train.yaml'}  > {rel(log)}  (stopped after {minutes:g} min)",
            flush=True,
        )
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [VENV.tool("onmt_train"), "-config", str(DIR / "train.yaml")],
                cwd=ROOT,
                env=peer_env(threads),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            deadline = time.time() + minutes * 60
            while proc.poll() is None and time.time() < deadline:
                time.sleep(min(10, max(0, deadline - time.time())))
                loads.append(os.getloadavg()[0])
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)
    if not log.is_file():
        raise BenchError(f"no ONMT training log at {log}: run with --train-minutes above 0 first")
    text = log.read_text()
    steps = [int(m) for m in re.findall(r"Step (\d+)/", text)]
    params = re.search(r"number of parameters: (\d+)", text)
    if not params:
        raise BenchError(f"ONMT's log names no parameter count; see {log}")
    info = {
        "minutes": (DIR / "train.minutes").read_text() if (DIR / "train.minutes").exists() else "?",
        "params": int(params.group(1)),
        "steps": max(steps, default=0),
        "last_report": (re.findall(r"Step \d+/.*", text) or ["-"])[-1],
    }
    for ckpt in sorted(DIR.glob("model_step_*.pt"), key=lambda p: -int(p.stem.split("_")[-1])):
        if (
            python_output(
                VENV.python, f"import torch; torch.load({str(ckpt)!r}, map_location='cpu', weights_only=False)"
            )
            is not None
        ):
            return ckpt, info  # the newest one that was not cut off mid-write
    raise BenchError(f"no usable checkpoint in {DIR}; see {log}")


def onmt_server(ckpt: Path, threads: int) -> ServerProcess:
    """`onmt_server` serving ``ckpt`` as model 100 (beam 5) and 101 (greedy), raw text in and out."""
    common = {
        "model": str(ckpt),
        "timeout": -1,
        "load": True,
        "tokenizer": {"type": "sentencepiece", "model": str(SPM)},
    }
    conf = {
        "models_root": str(DIR),
        "models": [{"id": 100, **common, "opt": {"beam_size": 5}}, {"id": 101, **common, "opt": {"beam_size": 1}}],
    }
    (DIR / "conf.json").write_text(json.dumps(conf, indent=1))
    return ServerProcess(
        lambda port: [VENV.tool("onmt_server"), "--ip", "127.0.0.1", "--port", port, "--config", DIR / "conf.json"],
        "/translator/health",
        env=peer_env(threads),
        log=DIR / "server.log",
        seconds=120,
    )


def onmt_call(text: str, beam: int) -> Call:
    return Call(
        text, "/translator/translate", [{"src": text, "id": 100 if beam > 1 else 101}], lambda reply: reply[0][0]["tgt"]
    )


def measure(name: str, server: ServerProcess, call, args, loads: list[float]) -> dict:
    """{(name, beam): drive's figures} for beam 5 and greedy; ``call(text, beam) -> Call``; closes ``server``."""
    with server:
        results = {}
        for beam in (5, 1):  # warm-up
            drive(server.url, lambda rng: call(rng.choice(SENTENCES), beam), 2, 1)  # noqa: B023 (drive() is synchronous)
        for beam in (5, 1):
            results[(name, beam)] = drive(
                server.url,
                lambda rng: call(rng.choice(SENTENCES), beam),  # noqa: B023 (as above)
                args.clients,
                args.seconds,
            )
            loads.append(os.getloadavg()[0])
        return results


def main(argv=None) -> None:
    p = parser("bench.peers.onmt", __doc__)
    p.add_argument("--data", default="../shared/data/fra.txt", help="source<TAB>target lines, split as training does")
    p.add_argument(
        "--train-minutes", type=float, default=5, help="minutes ONMT trains (0: reuse the newest checkpoint)"
    )
    p.add_argument("--seconds", type=float, default=10, help="seconds of traffic per row")
    p.add_argument("--clients", type=int, default=16, help="concurrent clients")
    p.add_argument("--threads", type=int, default=2, help="torch threads of both servers and ONMT's training")
    p.add_argument("--out", default="bench/results/onmt.md", help="markdown file to write")
    p.add_argument(
        "--float32", action="store_true", help="also our server with float32 weights (ATTNSERVE_WEIGHTS=float32)"
    )
    args = p.parse_args(argv)
    try:
        report(args, ".venv/bin/" + command_line("bench.peers.onmt", argv))
    except BenchError as exc:
        sys.exit(f"bench.peers.onmt: {exc}")


def report(args, command: str) -> None:
    """Build, train and serve ONMT, measure both servers, write --out and print it."""
    loads: list[float] = []  # 1-min load averages sampled during training and after each measured row
    ensure_venv()
    if args.train_minutes > 0:
        prepare_data(args.data)
    ckpt, info = train(args.train_minutes, args.threads, loads)
    ours_params = json.loads((SPM.parent / "config.json").read_text())["parameters"]
    print(
        f"ONMT: {info['params']:,} parameters, {info['steps']} steps ({info['last_report']})\nserving {rel(ckpt)}",
        flush=True,
    )
    results = measure(ONMT, onmt_server(ckpt, args.threads), onmt_call, args, loads)
    results |= measure("attnserve", attnserve(CHECKPOINTS, 32, args.threads), translate_call, args, loads)
    results |= measure("attnserve, batching off", attnserve(CHECKPOINTS, 1, args.threads), translate_call, args, loads)
    if args.float32:
        float32 = attnserve(CHECKPOINTS, 32, args.threads, {"ATTNSERVE_WEIGHTS": "float32"})
        results |= measure("attnserve, float32 weights", float32, translate_call, args, loads)
    text = (
        "\n".join(
            [f"`{command}`\n", *table(results, info, args, ours_params), *footer(results, info, ckpt, args, loads)]
        )
        + "\n"
    )
    print("\n" + text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


def table(results: dict, info: dict, args, ours_params: int) -> list[str]:
    """The markdown lines of the req/s table."""
    sp = spm.SentencePieceProcessor(model_file=str(SPM))
    lines = [
        (
            f"{args.clients} clients, {args.seconds:g} s per row, one sentence per request "
            f"(bench.common.SENTENCES), raw text in and out, {args.threads} torch threads per server, servers run "
            "one after the other. out pieces: mean SentencePiece pieces of the translations; "
            "pieces/s = req/s x out pieces.\n"
        ),
        ("| server | params | decoding | req/s | ours / ONMT | p50 ms | p95 ms | errors | out pieces | pieces/s |"),
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (name, beam), r in results.items():
        pieces = np.mean([len(sp.encode(t)) for t in r["outputs"].values()]) if r["outputs"] else float("nan")
        vs_onmt = r["rps"] / results[(ONMT, beam)]["rps"]
        lines.append(
            f"| {name} | {info['params'] if name == ONMT else ours_params:,} | "
            f"{'beam 5' if beam > 1 else 'greedy'} | {r['rps']:.1f} | {vs_onmt:.2f} | {r['p50']:.0f} | "
            f"{r['p95']:.0f} | {r['errors']} | {pieces:.1f} | {r['rps'] * pieces:.0f} |"
        )
    return lines


def footer(results: dict, info: dict, ckpt: Path, args, loads: list[float]) -> list[str]:
    """The ONMT model, sample translations, errors, load and the verdict on the 5x target."""
    acc_ppl = re.search(r"acc: *([\d.]+); ppl: *([\d.]+)", info["last_report"])
    lines = [
        "",
        (
            f"ONMT model: GRU brnn 512 / rnn 512, embeddings 256 shared (vocab 8000), mlp attention, "
            f"{info['steps']} steps of 2000 tokens in {info['minutes']} min on {args.threads} threads "
            f"(last report: acc {acc_ppl and acc_ppl[1]}, ppl {acc_ppl and acc_ppl[2]}), "
            f"{ckpt.name}."
        ),
        "",
        "| source | attnserve, beam 5 | ONMT-py, beam 5 | attnserve, greedy | ONMT-py, greedy |",
        "|---|---|---|---|---|",
    ]
    lines += [
        "| "
        + " | ".join([s] + [results[(n, b)]["outputs"].get(s, "-") for b in (5, 1) for n in ("attnserve", ONMT)])
        + " |"
        for s in SENTENCES[:3]
    ]
    for (name, beam), r in results.items():
        if r["errors"]:
            lines.append(f"\n{name} beam {beam}: {r['errors']} errors, first: {r['first_error']}")
    ours = [name for name in ("attnserve", "attnserve, float32 weights") if (name, 1) in results]
    ratios = {n: min(results[(n, b)]["rps"] / results[(ONMT, b)]["rps"] for b in (5, 1)) for n in ours}
    lines.append(
        f"\n1-min load average, sampled during training and after each row: "
        f"{min(loads, default=0):.1f} to {max(loads, default=0):.1f} (this run alone keeps it near "
        f"{args.threads} on a 2-core machine; more means other work shared the cores)."
    )
    for name, ratio in ratios.items():
        verdict = "met" if ratio >= 5 else "NOT met"
        lines.append(f"\nTarget >= 5x ONMT-py's req/s, {name}: {verdict} (lowest ratio {ratio:.2f}).")
    return lines


if __name__ == "__main__":
    main()
