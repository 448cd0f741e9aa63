"""Side by side with OpenNMT-py's REST server: same data, same vocabulary, same layer sizes.

    .venv/bin/python -m bench.peers.onmt [--train-minutes 5] [--seconds 10] [--clients 16]
        [--data ../shared/data/fra.txt] [--threads 2]

Builds a separate venv at work/peers/onmt-venv (torch==2.13.0 pinned first, then OpenNMT-py==3.0.4
and sentencepiece; never a dependency of the project), pre-tokenizes our training split with our
SentencePiece model, trains an ONMT GRU of our layer sizes for --train-minutes on CPU, serves it
with `onmt_server` on 127.0.0.1 and drives it and our server, one after the other, with --clients
asyncio clients (one sentence per request, beam 5 and greedy). Writes bench/results/onmt.md.
--train-minutes 0 reuses the newest checkpoint of an earlier run.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import sentencepiece as spm

from bench.load import SENTENCES, Server, free_port, wait_ready
from training.data import read_pairs, split_by_source

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "work" / "peers"
VENV, DIR = WORK / "onmt-venv", WORK / "onmt"
SPM = ROOT / "checkpoints" / "translator-en-fr" / "spm.model"
BIN = VENV / "bin"
LOAD: list[float] = []  # 1-min load averages sampled during training and after each measured row
ENV = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1", "PYTHONWARNINGS": "ignore"}


def run(cmd: list, log: Path | None = None, env: dict | None = None) -> None:
    print("$", shlex.join(map(str, cmd)) + (f"  > {log.relative_to(ROOT)}" if log else ""), flush=True)
    out = open(log, "w") if log else None
    try:
        subprocess.run(list(map(str, cmd)), check=True, env=env, stdout=out, stderr=out and subprocess.STDOUT)
    finally:
        if out:
            out.close()


def venv_python_ok(code: str) -> bool:
    return (BIN / "python").exists() and subprocess.run(
        [str(BIN / "python"), "-c", code], check=False, env=ENV, capture_output=True).returncode == 0


def ensure_venv() -> None:
    check = "import onmt, sentencepiece, torch; assert torch.__version__.startswith('2.13.0')"
    if venv_python_ok(check):
        print(f"venv {VENV.relative_to(ROOT)}: ready")
        return
    WORK.mkdir(parents=True, exist_ok=True)
    run(["python3", "-m", "venv", VENV])
    run([BIN / "pip", "install", "torch==2.13.0"], WORK / "pip-torch.log")  # CPU wheel first: no CUDA pulls
    run([BIN / "pip", "install", "torch==2.13.0", "OpenNMT-py==3.0.4", "sentencepiece==0.2.3"],
        WORK / "pip-onmt.log")
    run([BIN / "pip", "check"])
    run([BIN / "python", "-c", check], env=ENV)


def prepare_data(path: str, max_len: int = 64) -> None:
    """Our training split (seed 1234, 1500 dev / 5000 test sources, <= 64 pieces a side with </s>)
    as space-joined SentencePiece pieces, and a vocab file holding all 8000 pieces of our model."""
    sp = spm.SentencePieceProcessor(model_file=str(SPM))
    pairs = split_by_source(read_pairs(path), 1500, 5000, 1234).train
    kept = [(s, t) for s, t in ((sp.encode(s, out_type=str), sp.encode(t, out_type=str)) for s, t in pairs)
            if len(s) + 1 <= max_len and len(t) + 1 <= max_len]
    print(f"data: {len(pairs)} training pairs, {len(pairs) - len(kept)} over {max_len} pieces removed")
    DIR.mkdir(parents=True, exist_ok=True)
    for side, i in (("src", 0), ("tgt", 1)):
        (DIR / f"train.{side}").write_text("".join(" ".join(p[i]) + "\n" for p in kept), encoding="utf-8")
    counts = collections.Counter(piece for s, t in kept for piece in s + t)
    pieces = [sp.id_to_piece(i) for i in range(len(sp)) if not sp.is_control(i) and not sp.is_unknown(i)]
    pieces.sort(key=lambda p: -counts[p])  # ONMT adds its own <unk> <blank> <s> </s>
    (DIR / "vocab.txt").write_text("".join(f"{p}\t{counts[p]}\n" for p in pieces), encoding="utf-8")
    print(f"vocab: {len(pieces)} pieces of our model + ONMT's 4 specials, {len(kept)} training pairs written")


def train(minutes: float, threads: int) -> tuple[Path, dict]:
    config = {  # our architecture in ONMT's terms; see README for what cannot match exactly
        "save_data": str(DIR), "src_vocab": str(DIR / "vocab.txt"), "share_vocab": True,
        "data": {"corpus_1": {"path_src": str(DIR / "train.src"), "path_tgt": str(DIR / "train.tgt")}},
        "src_seq_length": 1000, "tgt_seq_length": 1000,
        "encoder_type": "brnn", "decoder_type": "rnn", "rnn_type": "GRU", "layers": 1,
        "enc_hid_size": 512, "dec_hid_size": 512, "word_vec_size": 256, "global_attention": "mlp",
        "input_feed": 1, "share_embeddings": True, "dropout": [0.2],
        "batch_type": "tokens", "batch_size": 2000, "normalization": "tokens", "num_workers": 0,
        "bucket_size": 32768, "optim": "adam", "learning_rate": 0.001, "max_grad_norm": 1.0,
        "label_smoothing": 0.1, "param_init": 0, "param_init_glorot": True, "seed": 1234,
        "train_steps": 1_000_000, "valid_steps": 1_000_000, "report_every": 10,
        "save_model": str(DIR / "model"), "save_checkpoint_steps": 10, "keep_checkpoint": 3,
    }
    log = DIR / "train.log"
    if minutes > 0:
        (DIR / "train.minutes").write_text(f"{minutes:g}")
        for old in DIR.glob("model_step_*.pt"):
            old.unlink()
        (DIR / "train.yaml").write_text(json.dumps(config, indent=1))  # JSON is YAML
        env = {**ENV, "OMP_NUM_THREADS": str(threads)}
        print(f"$ {BIN / 'onmt_train'} -config {DIR / 'train.yaml'}  > {log.relative_to(ROOT)}  "
              f"(stopped after {minutes:g} min)", flush=True)
        with open(log, "w") as out:
            proc = subprocess.Popen([str(BIN / "onmt_train"), "-config", str(DIR / "train.yaml")],
                                    env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            deadline = time.time() + minutes * 60
            while proc.poll() is None and time.time() < deadline:
                time.sleep(min(10, max(0, deadline - time.time())))
                LOAD.append(os.getloadavg()[0])
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)
    text = log.read_text()
    steps = [int(m) for m in re.findall(r"Step (\d+)/", text)]
    info = {"minutes": (DIR / "train.minutes").read_text() if (DIR / "train.minutes").exists() else "?",
            "params": int(re.search(r"number of parameters: (\d+)", text).group(1)),
            "steps": max(steps, default=0),
            "last_report": (re.findall(r"Step \d+/.*", text) or ["-"])[-1]}
    for ckpt in sorted(DIR.glob("model_step_*.pt"), key=lambda p: -int(p.stem.split("_")[-1])):
        if venv_python_ok(f"import torch; torch.load({str(ckpt)!r}, map_location='cpu', weights_only=False)"):
            return ckpt, info  # the newest one that was not cut off mid-write
    raise SystemExit(f"no usable checkpoint in {DIR}; see {log}")


class OnmtServer:
    def __init__(self, ckpt: Path, threads: int):
        common = {"model": str(ckpt), "timeout": -1, "load": True,
                  "tokenizer": {"type": "sentencepiece", "model": str(SPM)}}
        conf = {"models_root": str(DIR), "models": [
            {"id": 100, **common, "opt": {"beam_size": 5}},
            {"id": 101, **common, "opt": {"beam_size": 1}}]}
        (DIR / "conf.json").write_text(json.dumps(conf, indent=1))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(DIR / "server.log", "w")
        self.proc = subprocess.Popen(
            [str(BIN / "onmt_server"), "--ip", "127.0.0.1", "--port", str(self.port), "--config",
             str(DIR / "conf.json")], env={**ENV, "OMP_NUM_THREADS": str(threads)},
            stdout=self.log, stderr=subprocess.STDOUT)
        if wait_ready(f"{self.url}/translator/health", self.proc, 120):
            return
        self.close()
        raise SystemExit(f"onmt_server did not start; see {DIR / 'server.log'}")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def ours_call(beam: int):
    def call(text):
        return "/translate", {"text": text, "beam_size": beam}, lambda r: r["translation"]
    return call


def onmt_call(beam: int):
    def call(text):
        body = [{"src": text, "id": 100 if beam > 1 else 101}]
        return "/translator/translate", body, lambda r: r[0][0]["tgt"]
    return call


async def drive(url: str, call, clients: int, seconds: float, seed: int = 0) -> dict:
    rng = random.Random(seed)
    latencies, outputs, errors = [], {}, []
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        async def worker():
            while time.perf_counter() < stop:
                text = rng.choice(SENTENCES)
                path, body, parse = call(text)
                tick = time.perf_counter()
                try:
                    response = await client.post(path, json=body)
                    response.raise_for_status()
                    outputs[text] = parse(response.json())
                    latencies.append(time.perf_counter() - tick)
                except Exception as exc:  # a non-200, an ONMT {"error": ...} body, a dropped connection
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    q = np.percentile(latencies, [50, 95]) * 1000 if latencies else [float("nan")] * 2
    return {"rps": len(latencies) / elapsed, "p50": q[0], "p95": q[1], "errors": len(errors),
            "first_error": errors[0] if errors else "", "outputs": outputs}


def measure(name: str, server, call, args) -> dict:
    try:
        for beam in (5, 1):  # warm-up
            asyncio.run(drive(server.url, call(beam), 2, 1))
        results = {}
        for beam in (5, 1):
            results[(name, beam)] = asyncio.run(drive(server.url, call(beam), args.clients, args.seconds))
            LOAD.append(os.getloadavg()[0])
        return results
    finally:
        server.close()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/fra.txt")
    p.add_argument("--train-minutes", type=float, default=5)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--threads", type=int, default=2, help="torch threads of both servers and ONMT's training")
    p.add_argument("--out", default="bench/results/onmt.md")
    args = p.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    command = shlex.join([".venv/bin/python", "-m", "bench.peers.onmt", *given])
    os.chdir(ROOT)
    ensure_venv()
    if args.train_minutes > 0:
        prepare_data(args.data)
    ckpt, info = train(args.train_minutes, args.threads)
    ours_params = json.loads((SPM.parent / "config.json").read_text())["parameters"]
    print(f"ONMT: {info['params']:,} parameters, {info['steps']} steps ({info['last_report']})\n"
          f"serving {ckpt.relative_to(ROOT)}", flush=True)
    onmt = "ONMT-py 3.0.4"
    results = measure(onmt, OnmtServer(ckpt, args.threads), onmt_call, args)
    results |= measure("attnserve", Server("checkpoints", 32, args.threads), ours_call, args)
    results |= measure("attnserve, batching off", Server("checkpoints", 1, args.threads), ours_call, args)

    sp = spm.SentencePieceProcessor(model_file=str(SPM))
    lines = [f"`{command}`\n",
             (f"{args.clients} clients, {args.seconds:g} s per row, one sentence per request "
              f"(bench.load.SENTENCES), raw text in and out, {args.threads} torch threads per server, servers run "
              "one after the other. out pieces: mean SentencePiece pieces of the translations; "
              "pieces/s = req/s x out pieces.\n"),
             ("| server | params | decoding | req/s | ours / ONMT | p50 ms | p95 ms | errors | out pieces "
              "| pieces/s |"),
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (name, beam), r in results.items():
        pieces = np.mean([len(sp.encode(t)) for t in r["outputs"].values()]) if r["outputs"] else float("nan")
        vs_onmt = r["rps"] / results[(onmt, beam)]["rps"]
        lines.append(f"| {name} | {info['params'] if name == onmt else ours_params:,} | "
                     f"{'beam 5' if beam > 1 else 'greedy'} | {r['rps']:.1f} | {vs_onmt:.2f} | {r['p50']:.0f} | "
                     f"{r['p95']:.0f} | {r['errors']} | {pieces:.1f} | {r['rps'] * pieces:.0f} |")
    acc_ppl = re.search(r"acc: *([\d.]+); ppl: *([\d.]+)", info["last_report"])
    lines += ["", (f"ONMT model: GRU brnn 512 / rnn 512, embeddings 256 shared (vocab 8000), mlp attention, "
                   f"{info['steps']} steps of 2000 tokens in {info['minutes']} min on {args.threads} threads "
                   f"(last report: acc {acc_ppl and acc_ppl[1]}, ppl {acc_ppl and acc_ppl[2]}), "
                   f"{ckpt.name}."), "",
              "| source | attnserve, beam 5 | ONMT-py, beam 5 | attnserve, greedy | ONMT-py, greedy |",
              "|---|---|---|---|---|"]
    lines += ["| " + " | ".join([s] + [results[(n, b)]["outputs"].get(s, "-") for b in (5, 1)
                                       for n in ("attnserve", onmt)]) + " |" for s in SENTENCES[:3]]
    for (name, beam), r in results.items():
        if r["errors"]:
            lines.append(f"\n{name} beam {beam}: {r['errors']} errors, first: {r['first_error']}")
    ratio = min(results[("attnserve", b)]["rps"] / results[(onmt, b)]["rps"] for b in (5, 1))
    lines.append(f"\n1-min load average, sampled during training and after each row: "
                 f"{min(LOAD, default=0):.1f} to {max(LOAD, default=0):.1f} (this run alone keeps it near "
                 f"{args.threads} on a 2-core machine; more means other work shared the cores).")
    lines.append(f"\nTarget >= 5x ONMT-py's req/s: {'met' if ratio >= 5 else 'NOT met'} "
                 f"(lowest ratio {ratio:.2f}).")
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(report)


if __name__ == "__main__":
    main()
