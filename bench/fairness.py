"""Fair scheduling: short greedy requests while heavy batches run back to back.

    .venv/bin/python -m bench.fairness [--seconds 20] [--short-clients 4] [--heavy-clients 2]
                                       [--threads 2] [--server-root DIR] [--out FILE]
                                       [--uploader] [--upload-mb 28] [--scenarios idle,cap,...]

Heavy: each heavy client sends the batch of the serving issue again as soon as it is answered:
64 texts of about 1,000 characters (our benchmark sentences joined), beam 16 (each sentence's default
output limit: the server translates a text sentence by sentence). Short:
``--short-clients`` clients sending greedy ``POST /translate`` of one benchmark sentence each.
Every scenario starts its own server (shipped checkpoints):

- idle: the short clients alone, the baseline of every ratio;
- heavy at the cost cap: as many such texts as the default ``ATTNSERVE_MAX_REQUEST_COST`` lets
  through (counted with the shipped tokenizer and the server's own cost rule);
- the issue's batch (64 texts) with default settings: refused by the cost cap;
- the issue's batch with both caps raised so that it runs: the scheduler alone.

``--uploader`` adds two rows (issue 25): one client posting a generated Kaggle-format price file of
``--upload-mb`` MB (``date,open,high,low,close,volume,Name``, 1,259 sessions per ticker, as
all_stocks_5yr.csv) to ``POST /forecast/csv`` back to back, with the short clients alone (``upload``)
and with the heavy clients at the cost cap (``cap+upload``). ``--scenarios`` picks rows by name
(idle, cap, issue, raised, paragraphs2000, paragraphs5000, upload, cap+upload); idle, the baseline
of the ratios, always runs. The paragraph rows: each heavy client sends one text of that many
characters (the benchmark sentences run together, beam 5) to ``POST /translate`` back to back, with
the per-text limit raised to it: what a higher ``ATTNSERVE_MAX_TEXT_CHARS`` does to short requests.

``--server-root`` runs the servers from another checkout (e.g. ``git worktree add /tmp/old <commit>``)
to measure the server before a change with the same client code.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

from bench.common import ROOT, SENTENCES, BenchError, attnserve, drive, translate_call
from models.forecasting.calendar import get_calendar
from training.cli import parser

HEAVY_TEXT_CHARS = 990
ISSUE_BATCH = 64
RAISED = {"ATTNSERVE_MAX_REQUEST_COST": str(10**9), "ATTNSERVE_MAX_ANSWER_WEIGHTS": str(10**9)}


def heavy_texts(n: int) -> list[str]:
    """``n`` distinct texts of about ``HEAVY_TEXT_CHARS`` characters."""
    texts = []
    for i in range(n):
        words = " ".join(SENTENCES[(i + j) % len(SENTENCES)] for j in range(200))
        texts.append(words[:HEAVY_TEXT_CHARS].rsplit(" ", 1)[0])
    return texts


def texts_at_cap(checkpoint_dir: str) -> int:
    """How many heavy texts (beam 16) fit under the default cost cap, by the server's rules
    (``app.api.translate_jobs``: the text's sentences, each costed) and the shipped en->fr model."""
    from app.api.language_plan import Route
    from app.api.translate_jobs import job_cost, text_jobs
    from app.core.config import Settings
    from app.schemas.translate import DecodingOptions
    from models.translation.translator import Translator

    route = Route("en", "fr", Translator.load(Path(checkpoint_dir) / "translator-en-fr"))
    cap = Settings.model_fields["max_request_cost"].default
    options, total, n = DecodingOptions(beam_size=16), 0, 0
    for text in heavy_texts(ISSUE_BATCH):
        total += sum(job_cost(job) for job in text_jobs(text, ("body",), route, options).jobs)
        if total > cap:
            return n
        n += 1
    return n


UPLOAD_DAYS = 1259  # sessions per ticker, as all_stocks_5yr.csv (2013-02-08 .. 2018-02-07)


def kaggle_file(megabytes: float, seed: int = 0) -> bytes:
    """A Kaggle-format price file (``date,open,high,low,close,volume,Name``) of about ``megabytes``
    MB: tickers T0000, T0001, ... of UPLOAD_DAYS NYSE sessions each, random walks with valid bars."""
    days = [str(d) for d in get_calendar("XNYS").sessions("2013-01-01", "2018-02-07")[-UPLOAD_DAYS:]]
    rng = np.random.default_rng(seed)
    parts, size, k = ["date,open,high,low,close,volume,Name\n"], 0, 0
    while size < megabytes * 1e6:
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, UPLOAD_DAYS)))
        open_ = close * np.exp(rng.normal(0, 0.005, UPLOAD_DAYS))
        high, low = np.maximum(open_, close) * 1.01, np.minimum(open_, close) * 0.99
        volume = rng.integers(10**5, 10**7, UPLOAD_DAYS)
        name = f"T{k:04d}"
        rows = "".join(
            f"{d},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},{v},{name}\n"
            for d, o, h, lo, c, v in zip(days, open_, high, low, close, volume)
        )
        parts.append(rows)
        size, k = size + len(rows), k + 1
    return "".join(parts).encode()


def upload_call(data: bytes) -> Callable[[httpx.Client], int]:
    """POST /forecast/csv of ``data`` (ticker T0000); -> the status."""
    files = {"file": ("all_stocks_5yr.csv", data, "text/csv")}
    return lambda client: client.post("/forecast/csv", params={"ticker": "T0000"}, files=files).status_code


def batch_call(texts: list[str]) -> Callable[[httpx.Client], int]:
    """POST /translate/batch of ``texts``, beam 16; -> the status."""
    body = {"texts": texts, "beam_size": 16}
    return lambda client: client.post("/translate/batch", json=body).status_code


class LoadClients:
    """``clients`` threads sending ``call`` back to back until the block ends; statuses and the
    seconds of each answered (200) call."""

    def __init__(self, url: str, call: Callable[[httpx.Client], int], clients: int):
        self.call = call
        self.url = url
        self.statuses: Counter[int | str] = Counter()  # HTTP status, or "error" for no answer
        self.seconds: list[float] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(clients)]

    def _loop(self) -> None:
        with httpx.Client(base_url=self.url, timeout=300) as client:
            while not self.stopping.is_set():
                tick = time.perf_counter()
                status: int | str
                try:
                    status = self.call(client)
                except httpx.HTTPError:
                    status = "error"
                self.statuses[status] += 1
                if status == 200:
                    self.seconds.append(time.perf_counter() - tick)

    def __enter__(self) -> LoadClients:
        for thread in self.threads:
            thread.start()
        time.sleep(2)  # every heavy batch is in the server before the short clients start
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()  # threads still inside a request end with the server


def paragraph_call(chars: int) -> Callable[[httpx.Client], int]:
    """POST /translate of one paragraph of benchmark sentences about ``chars`` long, beam 5 (the
    default); -> the status."""
    text = " ".join(SENTENCES * (chars // 20 + 1))[:chars].rsplit(" ", 1)[0]
    return lambda client: client.post("/translate", json={"text": text}).status_code


def scenario(
    args, heavy: int | Callable[[httpx.Client], int], settings: dict[str, str] | None, upload: bytes | None
) -> dict:
    """``heavy``: how many heavy texts each heavy client's batch holds (0: no heavy clients), or the
    call each heavy client makes."""
    short = lambda rng: translate_call(rng.choice(SENTENCES), 1)  # noqa: E731
    with attnserve(args.checkpoint_dir, 32, args.threads, settings, root=args.server_root) as server:
        drive(server.url, short, 1, 1.0)  # warm-up
        with contextlib.ExitStack() as load:
            heavy_clients = args.heavy_clients if heavy else 0
            call = heavy if callable(heavy) else batch_call(heavy_texts(heavy))
            heavies = load.enter_context(LoadClients(server.url, call, heavy_clients))
            uploads = load.enter_context(LoadClients(server.url, upload_call(upload), 1)) if upload else None
            result = drive(server.url, short, args.short_clients, args.seconds, timeout=120)
        return {**result, "heavy": heavies if heavy else None, "uploads": uploads}


def load_cells(clients: LoadClients | None, also: int | None) -> str:
    """Table cells of background clients: 200s, ``also`` (a status counted apart; None: none),
    other answers, mean seconds of a 200; dashes without such clients."""
    if clients is None:
        return " | ".join("-" * (4 if also else 3))
    counts = clients.statuses
    other = sum(v for k, v in counts.items() if k not in (200, also))
    mean = f"{sum(clients.seconds) / len(clients.seconds):.1f}" if clients.seconds else "-"
    return " | ".join([str(counts[200]), *([str(counts[also])] if also else []), str(other), mean])


def main(argv: list[str] | None = None) -> None:
    p = parser("bench.fairness", __doc__)
    p.add_argument("--checkpoint-dir", default="checkpoints", help="checkpoints to serve")
    p.add_argument("--seconds", type=float, default=20, help="seconds of short traffic per scenario")
    p.add_argument("--short-clients", type=int, default=4, help="concurrent short clients")
    p.add_argument("--heavy-clients", type=int, default=2, help="clients sending heavy batches")
    p.add_argument("--threads", type=int, default=None, help="torch threads of the server (default: its own)")
    p.add_argument("--server-root", type=Path, default=ROOT, help="checkout the server runs from")
    p.add_argument("--out", type=Path, default=None, help="also write the table to this file (default: none)")
    p.add_argument("--uploader", action="store_true", help="add the rows with a client uploading price files")
    p.add_argument("--upload-mb", type=float, default=28, help="size of the uploaded price file, MB")
    p.add_argument("--scenarios", default=None, help="comma-separated rows to run (default: all)")
    args = p.parse_args(argv)
    args.checkpoint_dir = str(Path(args.checkpoint_dir).resolve())
    upload = kaggle_file(args.upload_mb) if args.uploader else None
    mb = f"{len(upload) / 1e6:.1f} MB" if upload else ""
    at_cap = texts_at_cap(args.checkpoint_dir)
    rows: list[tuple[str, str, int | Callable[[httpx.Client], int], dict[str, str] | None, bytes | None]] = [
        ("idle", "idle (baseline)", 0, None, None),
        ("cap", f"heavy at the cost cap ({at_cap} text{'s' * (at_cap != 1)})", at_cap, None, None),
        ("issue", f"the issue's batch ({ISSUE_BATCH} texts), default settings", ISSUE_BATCH, None, None),
        (
            "raised",
            f"the issue's batch, ATTNSERVE_MAX_REQUEST_COST={RAISED['ATTNSERVE_MAX_REQUEST_COST']}",
            ISSUE_BATCH,
            RAISED,
            None,
        ),
    ]
    for chars in (2000, 5000):
        rows.append(
            (
                f"paragraphs{chars}",
                f"paragraphs of {chars:,} characters, beam 5 (ATTNSERVE_MAX_TEXT_CHARS={chars})",
                paragraph_call(chars),
                {"ATTNSERVE_MAX_TEXT_CHARS": str(chars)},
                None,
            )
        )
    if upload:
        rows += [
            ("upload", f"uploader ({mb} Kaggle file back to back)", 0, None, upload),
            ("cap+upload", f"heavy at the cost cap + uploader ({mb})", at_cap, None, upload),
        ]
    if args.scenarios:
        wanted = {"idle", *args.scenarios.split(",")}
        rows = [row for row in rows if row[0] in wanted]
    lines = [
        f"short: {args.short_clients} clients, greedy /translate, {args.seconds:g} s per row; heavy: "
        f"{args.heavy_clients} clients, /translate/batch of ~{HEAVY_TEXT_CHARS}-character texts, beam 16, "
        "each sentence's default output limit, back to back; uploader: 1 client, POST /forecast/csv back to back; "
        f"server from {args.server_root}, {args.threads or 'its default'} torch threads",
        "",
        "| scenario | short req/s | p50 ms | p95 ms | p99 ms | p95 / idle | short errors "
        "| heavy 200 | heavy 422 | heavy other | heavy s (mean) | uploads 200 | uploads other | upload s (mean) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    idle_p95 = None
    try:
        for _, name, heavy, settings, data in rows:
            r = scenario(args, heavy, settings, data)
            idle_p95 = idle_p95 or r["p95"]
            lines.append(
                f"| {name} | {r['rps']:.1f} | {r['p50']:.0f} | {r['p95']:.0f} | {r['p99']:.0f} "
                f"| {r['p95'] / idle_p95:.2f} | {r['errors']} | {load_cells(r['heavy'], 422)} "
                f"| {load_cells(r['uploads'], None)} |"
            )
            print(lines[-1], file=sys.stderr, flush=True)
            if r["errors"]:
                print(f"  first short error: {r['first_error']}", file=sys.stderr)
    except BenchError as exc:
        sys.exit(f"bench.fairness: {exc}")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
