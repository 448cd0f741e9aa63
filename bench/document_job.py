"""A 50-page Word document as a job, while short requests keep coming.

    .venv/bin/python -m bench.document_job [--words 25000] [--idle-seconds 20] [--beam 5] [--threads 2]

Builds a .docx of about ``--words`` words from English sources of the test sets (never trained on:
``data/splits/test.tsv`` and the multilingual ``en-*`` test sets), in paragraphs of five sentences
with a heading every ten paragraphs and a bold run in every third paragraph; starts our server
(shipped checkpoints, default settings: the file is over the request cost cap, so it becomes a job);
measures one client's greedy ``POST /translate`` of a short sentence back to back for
``--idle-seconds`` alone (the baseline), then while the job runs; and the job's time from the
upload to its result downloaded. Printed: a table with the job's time and rate beside the short
requests' p50/p95 alone and meanwhile.
"""

from __future__ import annotations

import io
import random
import statistics
import sys
import threading
import time
from pathlib import Path

import docx
import httpx

from bench.common import BenchError, attnserve
from training.cli import parser

SHORT = {"text": "Where is the station?", "source_lang": "en", "target_lang": "fr", "beam_size": 1}


def english_sources() -> list[str]:
    """English sentences of the test sets, each once, in a fixed order."""
    files = [Path("data/splits/test.tsv"), *sorted(Path("data/splits-multi").glob("en-*/test.tsv"))]
    seen: dict[str, None] = {}
    for path in files:
        if not path.exists():
            raise BenchError(f"{path} is missing: write the splits first (docs/training.md)")
        for line in path.read_text(encoding="utf-8").splitlines():
            seen.setdefault(line.split("\t")[0], None)
    return list(seen)


def build(words: int, seed: int) -> tuple[bytes, int, int]:
    """(the .docx, its words, its paragraphs)."""
    sentences = english_sources()
    random.Random(seed).shuffle(sentences)
    document, count, paragraphs, at = docx.Document(), 0, 0, 0
    while count < words and at + 5 <= len(sentences):
        if paragraphs % 10 == 0:
            document.add_heading(f"Part {paragraphs // 10 + 1}", level=1)
        chunk = sentences[at : at + 5]
        at += 5
        paragraph = document.add_paragraph(" ".join(chunk[:4]) + " ")
        paragraph.add_run(chunk[4]).bold = paragraphs % 3 == 0
        count += sum(len(s.split()) for s in chunk)
        paragraphs += 1
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue(), count, paragraphs


def short_requests(client: httpx.Client, until: threading.Event, out: list[float]) -> None:
    """Greedy short translations back to back until ``until`` is set; each one's seconds in ``out``."""
    while not until.is_set():
        start = time.perf_counter()
        response = client.post("/translate", json=SHORT)
        if response.status_code != 200:
            raise BenchError(f"/translate answered {response.status_code}: {response.text[:200]}")
        out.append(time.perf_counter() - start)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def run_job(client: httpx.Client, data: bytes, beam: int) -> tuple[float, dict]:
    """Upload, follow, download: (seconds, the job's last status)."""
    start = time.perf_counter()
    response = client.post(
        "/translate/file",
        files={"file": ("fifty-pages.docx", data)},
        data={"source_lang": "en", "target_lang": "fr", "beam_size": str(beam)},
    )
    if response.status_code != 202:
        raise BenchError(f"expected a job (202), got {response.status_code}: {response.text[:200]}")
    location = response.headers["location"]
    while True:
        job = client.get(location).json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(1.0)
    if job["status"] != "done":
        raise BenchError(f"the job failed: {job['error']}")
    if client.get(job["result_url"]).status_code != 200:
        raise BenchError("the result could not be downloaded")
    return time.perf_counter() - start, job


def main(argv: list[str] | None = None) -> None:
    p = parser("bench.document_job", __doc__)
    p.add_argument("--words", type=int, default=25_000, help="words in the document (about 500 a page)")
    p.add_argument("--idle-seconds", type=float, default=20, help="short requests alone, the baseline")
    p.add_argument("--beam", type=int, default=5, help="the document's beam size")
    p.add_argument("--threads", type=int, default=2, help="the server's torch threads")
    p.add_argument("--seed", type=int, default=0, help="which sentences, in which order")
    args = p.parse_args(argv)
    data, words, paragraphs = build(args.words, args.seed)
    idle: list[float] = []
    during: list[float] = []
    try:
        with (
            attnserve("checkpoints", 32, args.threads, {"ATTNSERVE_DATA_DIR": "work/bench-jobs"}) as server,
            httpx.Client(base_url=server.url, timeout=600) as client,
        ):
            stop = threading.Event()
            threading.Timer(args.idle_seconds, stop.set).start()
            short_requests(client, stop, idle)
            stop = threading.Event()
            worker = threading.Thread(target=short_requests, args=(httpx.Client(base_url=server.url), stop, during))
            worker.start()
            seconds, job = run_job(client, data, args.beam)
            stop.set()
            worker.join()
    except BenchError as exc:
        sys.exit(f"bench.document_job: {exc}")
    print(f"A .docx of {words:,} words ({paragraphs} paragraphs, {job['blocks_total']} blocks, {len(data):,} bytes), ")
    print(f"en->fr, beam {args.beam}, {args.threads} torch threads; short requests: greedy, one client:\n")
    print("| job seconds | words / s | short p50 alone | p95 alone | p50 during the job | p95 during | requests |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {seconds:.0f} | {words / seconds:.0f} | {percentile(idle, 50) * 1000:.0f} ms | "
        f"{percentile(idle, 95) * 1000:.0f} ms | {percentile(during, 50) * 1000:.0f} ms | "
        f"{percentile(during, 95) * 1000:.0f} ms | {len(during)} |"
    )


if __name__ == "__main__":
    main()
