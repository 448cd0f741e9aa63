"""Download the data the training commands read (Tatoeba sentence pairs, S&P 500 prices), checked.

    python -m training.data_download                          # all of it, into ../shared/data
    python -m training.data_download --only tatoeba-fr,prices --dest ~/attnserve-data
    python -m training.data_download --list                   # the sources and where each file goes

The sources are SOURCES below (where each comes from: the comment above it; docs/training.md);
--base-url puts another scheme and host in front of every URL's path (a mirror of your own), or edit
the table. Every file written must have the sha256 of the project's copy; a download's own sha256 is
checked where pinned (None: not pinned). A mismatch is an error naming the file, the expected and the
got checksum, and nothing is left under the file's name (it is written to a temporary name first).
manythings.org serves only its newest export, never the older one this project used for deu.txt:
--no-verify keeps such a file with a warning (its sentences differ, so docs/results will not
reproduce). Files already there with the right checksum are skipped (--force fetches them again).
Progress goes to stderr (tqdm if installed). A source that fails is one line on stderr, the others are
still fetched, and the exit status is 1.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.util
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from training.cli import parser

CHUNK = 1 << 16
USER_AGENT = "attnserve-data-download/1.0 (python urllib)"
USE_TQDM = importlib.util.find_spec("tqdm") is not None  # tqdm comes with the `train` extra
# the tickers of all_stocks_5yr.csv that the project's copy leaves out (kept back for evaluation)
HELD_OUT = frozenset(
    "AAP ADS ADSK AEE AMAT BAX BBT BDX BHF BLL CA CAG CBS CCI CF CHD CSCO CSX DISH EQIX EQR EVHC FCX FOX GD "
    "GS HOLX IBM IFF IR JBHT JPM JWN LUK LYB MKC MO MSFT NSC NTRS OMC PGR RCL SNA TMK TMO UDR UTX VAR WM".split()
)


@dataclass(frozen=True)
class Target:
    """DEST/``name`` (in a .zip download: the entry of that name, at any depth), which must have
    ``sha256`` (None: not pinned); CSV rows whose last field is in ``drop`` are left out."""

    name: str
    sha256: str | None
    drop: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Source:
    """A download (``sha256``: its own checksum, None if not pinned), its files and what to run next."""

    name: str
    url: str
    sha256: str | None
    targets: tuple[Target, ...]
    next_step: str  # the training command that reads these files, with {dest}


TF_DATA = "https://storage.googleapis.com/download.tensorflow.org/data"  # copies of manythings.org exports
ANKI = "https://www.manythings.org/anki"
KAGGLE_COPY = "https://raw.githubusercontent.com/CNuge/kaggle-code/f1109438d6cfb3ffdaa7d4480437cfbaaedd3236/stock_data"
SHA256 = {  # of the project's copies (../shared/data), and of the price file as its author published it
    "fra.txt": "0bb85dbaa1c896844649094d7eaf2e34bee34e84fe362b26ce7e8f2e12aae104",
    "deu.txt": "a79c90b3cd3102decffa49cc00fb6f20023974f2ae5c4782515bebe133fcc07b",
    "spa.txt": "6ec60e212f812ee3430f7568ea6f33b6fb080e32193c5952e8da0ee8ba45574c",
    "all_stocks_5yr.csv": "8c48bcf1d6ea6ab130a186db32ccf803aaf1294466643d6d6d501af074152a9a",
    "all_stocks_5yr.csv, 505 tickers": "6aea253cd19de60b568143991aaf1fa482456565c389205658d236e595e716cf",
}
EN_FR = "python -m training.translation.train --data {dest}/fra.txt --out work/translator-en-fr"
MULTI = (  # reads all three Tatoeba files
    "python -m training.translation.train --data fr={dest}/fra.txt de={dest}/deu.txt es={dest}/spa.txt --directions "
    "fr-en en-de de-en en-es es-en --vocab-size 12000 --splits-dir data/splits-multi --out work/tr-multi"
)
PRICES = "python -m training.forecasting.train --data {dest}/all_stocks_5yr.csv --out work/forecaster-sp500"
# Tatoeba pairs (CC-BY 2.0 FR): fra.txt (2019-04-07) and spa.txt (2018-05-13) are the manythings.org exports
# TensorFlow's tutorials keep copies of; manythings.org itself serves only its newest deu-eng.zip, not the
# 2018-05-13 one used here (--no-verify). Prices: Kaggle camnugent/sandp500 (CC0), all_stocks_5yr.csv as
# its author committed it for the release (505 tickers; the 50 in HELD_OUT are dropped).
SOURCES: tuple[Source, ...] = (
    Source("tatoeba-fr", f"{TF_DATA}/fra-eng.zip", None, (Target("fra.txt", SHA256["fra.txt"]),), EN_FR),
    Source("tatoeba-de", f"{ANKI}/deu-eng.zip", None, (Target("deu.txt", SHA256["deu.txt"]),), MULTI),
    Source("tatoeba-es", f"{TF_DATA}/spa-eng.zip", None, (Target("spa.txt", SHA256["spa.txt"]),), MULTI),
    Source(
        "prices",
        f"{KAGGLE_COPY}/all_stocks_5yr.csv",
        SHA256["all_stocks_5yr.csv, 505 tickers"],
        (Target("all_stocks_5yr.csv", SHA256["all_stocks_5yr.csv"], drop=HELD_OUT),),
        PRICES,
    ),
)


class DownloadError(Exception):
    """A failure reported as one line, exit status 1."""


class LineProgress:
    """Progress without tqdm: a line on stderr at every quarter (every 8 MB when the size is unknown)."""

    def __init__(self, total: int | None, desc: str) -> None:
        self.total, self.desc, self.done, self.shown = total, desc, 0, -1

    def update(self, n: int) -> None:
        self.done += n
        step = self.done * 4 // self.total if self.total else self.done >> 23
        if step > self.shown:
            self.shown = step
            percent = f" ({self.done * 100 // self.total}%)" if self.total else ""
            print(f"{self.desc}: {self.done / 1e6:.1f} MB{percent}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Nothing to close (tqdm's bar has to be)."""


def progress(total: int | None, desc: str) -> Any:
    """A progress bar over ``total`` bytes (None: unknown): tqdm's if it is installed."""
    if USE_TQDM:
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr)
    return LineProgress(total, desc)


def fetch(url: str, out: IO[bytes], desc: str) -> str:
    """Stream ``url`` into ``out`` with a progress bar; the sha256 of what came."""
    digest, got, total = hashlib.sha256(), 0, None
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = progress(total, desc)
            try:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
                    got += len(chunk)
            finally:
                bar.close()
    except urllib.error.HTTPError as error:
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise DownloadError(f"{url}: cannot connect ({error.reason})") from None
    except (OSError, http.client.HTTPException) as error:
        raise DownloadError(f"{url}: download failed ({error!r})") from None
    if total is not None and got != total:
        raise DownloadError(f"{url}: download cut short ({got} of {total} bytes)")
    return digest.hexdigest()


def check(label: str, expected: str | None, got: str, no_verify: bool) -> None:
    """A sha256 mismatch is an error, or a warning under --no-verify; None expects nothing."""
    if expected is None or expected == got:
        return
    message = f"{label}: sha256 mismatch: expected {expected}, got {got}"
    if not no_verify:
        raise DownloadError(f"{message} (another version of the data? --no-verify keeps it)")
    print(f"warning: {message}; kept (--no-verify)", file=sys.stderr)


def copy_rows(src: IO[bytes], out: IO[bytes], drop: frozenset[str]) -> str:
    """Copy ``src`` to ``out`` (CSV rows whose last field is in ``drop`` left out); the sha256 written."""
    digest = hashlib.sha256()
    pieces: Iterable[bytes] = src if drop else iter(lambda: src.read(CHUNK), b"")
    for piece in pieces:
        if drop and piece.rstrip(b"\r\n").rsplit(b",", 1)[-1].decode("utf-8", "replace") in drop:
            continue
        out.write(piece)
        digest.update(piece)
    return digest.hexdigest()


def write_target(target: Target, src: IO[bytes], dest: Path, no_verify: bool) -> None:
    """Write DEST/``target.name`` from ``src`` via a temporary file, renamed once its checksum is right."""
    part = dest / f".{target.name}.part"
    try:
        with part.open("wb") as out:
            got = copy_rows(src, out, target.drop)
        check(str(dest / target.name), target.sha256, got, no_verify)
        os.replace(part, dest / target.name)
    finally:
        part.unlink(missing_ok=True)


def download(source: Source, url: str, dest: Path, no_verify: bool) -> None:
    """Download ``source`` from ``url`` into a temporary file in ``dest``, check it, write its files."""
    with tempfile.TemporaryFile(dir=dest) as body:
        check(f"{source.name} download {url}", source.sha256, fetch(url, body, source.name), no_verify)
        body.seek(0)
        if not urllib.parse.urlsplit(url).path.endswith(".zip"):
            for target in source.targets:
                write_target(target, body, dest, no_verify)
            return
        try:
            with zipfile.ZipFile(body) as bundle:
                names = bundle.namelist()
                for target in source.targets:
                    entry = next((name for name in names if name.rsplit("/", 1)[-1] == target.name), None)
                    if entry is None:
                        raise DownloadError(f"{source.name}: the archive has no {target.name} (it has {names})")
                    with bundle.open(entry) as src:
                        write_target(target, src, dest, no_verify)
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise DownloadError(f"{source.name}: not a readable zip archive ({error})") from None


def present(target: Target, dest: Path, no_verify: bool) -> bool:
    """Whether DEST/``target.name`` is there with its checksum (any content under --no-verify)."""
    path = dest / target.name
    if not path.is_file() or no_verify or target.sha256 is None:
        return path.is_file()
    with path.open("rb") as src:
        return hashlib.file_digest(src, "sha256").hexdigest() == target.sha256


def rebase(url: str, base: str | None) -> str:
    """``url`` with the scheme and host of ``base`` (and a path of ``base`` in front of its own)."""
    if not base:
        return url
    old, new = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((new.scheme, new.netloc, new.path.rstrip("/") + old.path, old.query, ""))


def describe(sources: Sequence[Source], base: str | None, dest: str) -> None:
    """--list: each source, its URL and checksum, and the files it writes."""
    for source in sources:
        print(f"{source.name}: {rebase(source.url, base)} (sha256 {source.sha256 or 'not pinned'})")
        for target in source.targets:
            dropped = f", without {len(target.drop)} tickers kept back" if target.drop else ""
            print(f"    -> {dest}/{target.name} (sha256 {target.sha256 or 'not pinned'}{dropped})")


def parse_args(argv: Sequence[str] | None, names: Sequence[str] | None = None) -> Any:
    """The command line; --only is checked against ``names`` (default: the sources' names)."""
    names = [source.name for source in SOURCES] if names is None else names
    cli = parser("training.data_download", __doc__)
    cli.add_argument("--dest", default="../shared/data", help="folder the files go to")
    cli.add_argument("--only", help=f"comma-separated sources out of {','.join(names)}; all when omitted")
    cli.add_argument("--base-url", help="scheme and host put in place of every source's (e.g. a local mirror)")
    cli.add_argument("--list", action="store_true", help="print the sources and where their files go, then exit")
    cli.add_argument("--force", action="store_true", help="download again files that are already there")
    cli.add_argument("--no-verify", action="store_true", help="a checksum mismatch is a warning, not an error")
    args = cli.parse_args(argv)
    unknown = sorted(set((args.only or "").split(",")) - set(names) - {""})
    if unknown:
        cli.error(f"--only: no source named {', '.join(unknown)} (there are {', '.join(names)})")
    base = urllib.parse.urlsplit(args.base_url or "http://x")
    if not (base.scheme in ("http", "https") and base.netloc):
        cli.error(f"--base-url {args.base_url!r}: give a scheme and a host, e.g. http://127.0.0.1:8000")
    return args


def main(argv: Sequence[str] | None = None, sources: Sequence[Source] = SOURCES) -> int:
    """Run the command; the exit status (0, or 1 after one line on stderr naming what failed)."""
    args = parse_args(argv, [source.name for source in sources])
    chosen = [source for source in sources if not args.only or source.name in args.only.split(",")]
    if args.list:
        describe(chosen, args.base_url, args.dest)
        return 0
    dest, failed = Path(args.dest).expanduser(), 0
    for source in chosen:  # a source that fails is one line on stderr; the others are still fetched
        try:
            dest.mkdir(parents=True, exist_ok=True)
            if not args.force and all(present(target, dest, args.no_verify) for target in source.targets):
                print(f"{source.name}: already in {dest}; skipped (--force downloads it again)")
                continue
            download(source, rebase(source.url, args.base_url), dest, args.no_verify)
        except (DownloadError, OSError) as error:
            print(f"training.data_download: {error}", file=sys.stderr)
            failed += 1
        except KeyboardInterrupt:
            print("training.data_download: interrupted; nothing half-written is left", file=sys.stderr)
            return 130
    if failed:
        return 1
    files = ", ".join(target.name for source in chosen for target in source.targets)
    print(f"\nThe data is in {dest.resolve()}: {files}\nNext, from the repository root:")
    for step in dict.fromkeys(source.next_step for source in chosen):
        print("    .venv/bin/" + step.format(dest=dest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
