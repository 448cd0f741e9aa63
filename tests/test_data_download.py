"""training.data_download against a local HTTP server: no network.

The server (http.server on 127.0.0.1, port 0, in a thread) serves fixture files built in tmp_path:
a zip that holds a tiny fra.txt one folder down (as manythings.org zips may), beside _about.txt, and
a tiny price CSV. The sources are the command's own Source/Target types pointed at those files with
the fixtures' checksums (main(..., sources=...)); --base-url sends the real URLs' paths there. The
real table is checked against the project's data files where they exist.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import socket
import threading
import zipfile
from pathlib import Path

import pytest

from training import data_download
from training.data_download import SOURCES, Source, Target, main

FRA = "Go.\tVa !\nHi.\tSalut !\nHow are you?\tÇa va ?\n".encode()
HEADER = b"date,open,high,low,close,volume,Name\n"
KEPT = b"2013-02-08,15.07,15.12,14.63,14.75,8407500,AAL\n2013-02-11,14.89,15.01,14.26,14.46,8882000,AAL\n"
HELD = b"2013-02-08,45.07,45.35,45.0,45.08,1824755,HELD\n"
PRICES = HEADER + KEPT[:47] + HELD + KEPT[47:]  # a held-out row between two kept ones


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fra_zip(text: bytes = FRA) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("fra-eng/_about.txt", "Tatoeba, manythings.org\n")
        bundle.writestr("fra-eng/fra.txt", text)
    return buffer.getvalue()


def fra_source(url: str = "https://tf.example/data/fra-eng.zip", fra_sha: str | None = None) -> Source:
    """The fixture zip as a source; the URL's host is never reached (--base-url replaces it)."""
    next_step = "python -m training.translation.train --data {dest}/fra.txt"
    return Source("tatoeba-fr", url, None, (Target("fra.txt", fra_sha or sha(FRA)),), next_step)


def sources(fra_sha: str | None = None) -> tuple[Source, ...]:
    """Both fixtures as sources: the zip, and the price file (its own checksum pinned, one ticker dropped)."""
    prices = Target("all_stocks_5yr.csv", sha(HEADER + KEPT), drop=frozenset({"HELD"}))
    next_step = "python -m training.forecasting.train --data {dest}/all_stocks_5yr.csv"
    return fra_source(fra_sha=fra_sha), Source(
        "prices", "https://x.example/sp/all_stocks_5yr.csv", sha(PRICES), (prices,), next_step
    )


class Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        if self.path.startswith("/cut/"):  # promises more bytes than it sends
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"only this")
            return
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site(tmp_path):
    """(root folder served, base URL, list of the paths requested)."""
    root = tmp_path / "www"
    (root / "data").mkdir(parents=True)
    (root / "sp").mkdir()
    (root / "data" / "fra-eng.zip").write_bytes(fra_zip())
    (root / "sp" / "all_stocks_5yr.csv").write_bytes(PRICES)
    Handler.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}", Handler.requests
    server.shutdown()
    server.server_close()


def run(base: str, dest: Path, *extra: str, **kwargs) -> int:
    return main(["--dest", str(dest), "--base-url", base, *extra], sources=kwargs.get("sources") or sources())


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("training.data_download:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("tqdm", [True, False], ids=["tqdm", "plain-line"])
def test_files_land_checked_and_a_second_run_skips_them(site, tmp_path, capsys, monkeypatch, tqdm):
    monkeypatch.setattr(data_download, "USE_TQDM", tqdm)
    _, base, requests = site
    dest = tmp_path / "data"
    assert run(base, dest) == 0
    assert (dest / "fra.txt").read_bytes() == FRA  # taken out of fra-eng/ in the zip
    assert (dest / "all_stocks_5yr.csv").read_bytes() == HEADER + KEPT  # the held-out ticker's row dropped
    assert sorted(p.name for p in dest.iterdir()) == ["all_stocks_5yr.csv", "fra.txt"]  # no temporary left
    assert requests == ["/data/fra-eng.zip", "/sp/all_stocks_5yr.csv"]
    out, err = capsys.readouterr()
    assert "tatoeba-fr" in err and "prices" in err and "100%" in err  # progress, on stderr
    assert str(dest.resolve()) in out  # where the files are, and what to run next
    assert f".venv/bin/python -m training.translation.train --data {dest}/fra.txt" in out
    assert f".venv/bin/python -m training.forecasting.train --data {dest}/all_stocks_5yr.csv" in out

    assert run(base, dest) == 0
    assert len(requests) == 2  # nothing downloaded again
    assert capsys.readouterr().out.count("skipped") == 2

    assert run(base, dest, "--force", "--only", "prices") == 0
    assert requests[2:] == ["/sp/all_stocks_5yr.csv"]


def test_a_damaged_file_in_dest_is_downloaded_again(site, tmp_path):
    _, base, requests = site
    dest = tmp_path / "data"
    assert run(base, dest, "--only", "tatoeba-fr") == 0
    (dest / "fra.txt").write_bytes(FRA[:-3])
    assert run(base, dest, "--only", "tatoeba-fr") == 0
    assert (dest / "fra.txt").read_bytes() == FRA and len(requests) == 2


def test_an_extracted_file_with_another_checksum_is_an_error_and_is_not_left(site, tmp_path, capsys):
    root, base, _ = site
    dest = tmp_path / "data"
    changed = FRA.replace(b"Salut", b"Salux")
    (root / "data" / "fra-eng.zip").write_bytes(fra_zip(changed))
    assert run(base, dest, "--only", "tatoeba-fr") == 1
    line = one_error_line(capsys.readouterr().err)
    assert "fra.txt" in line and f"expected {sha(FRA)}" in line and f"got {sha(changed)}" in line
    assert list(dest.iterdir()) == []  # neither fra.txt nor its temporary


def test_a_corrupted_download_with_a_pinned_checksum_is_an_error(site, tmp_path, capsys):
    root, base, _ = site
    dest = tmp_path / "data"
    (root / "sp" / "all_stocks_5yr.csv").write_bytes(PRICES.replace(b"15.07", b"15.08"))
    assert run(base, dest, "--only", "prices") == 1
    line = one_error_line(capsys.readouterr().err)
    assert "all_stocks_5yr.csv" in line and f"expected {sha(PRICES)}" in line
    assert list(dest.iterdir()) == []


def test_no_verify_keeps_a_mismatch_with_a_warning(site, tmp_path, capsys):
    _, base, _ = site
    dest = tmp_path / "data"
    newer = sources(fra_sha="0" * 64)
    assert run(base, dest, "--only", "tatoeba-fr", "--no-verify", sources=newer) == 0
    assert (dest / "fra.txt").read_bytes() == FRA
    assert f"warning: {dest / 'fra.txt'}: sha256 mismatch: expected {'0' * 64}" in capsys.readouterr().err
    assert run(base, dest, "--only", "tatoeba-fr", sources=newer) == 1  # without the flag it does not pass


@pytest.mark.parametrize(
    "case, expect",
    [("404", "HTTP 404"), ("bad-zip", "not a readable zip archive"), ("cut", "cut short (9 of 1000 bytes)")],
)
def test_http_and_archive_failures_are_one_clean_line(site, tmp_path, capsys, case, expect):
    root, base, _ = site
    dest = tmp_path / "data"
    if case == "404":
        (root / "data" / "fra-eng.zip").unlink()
    if case == "bad-zip":
        (root / "data" / "fra-eng.zip").write_bytes(fra_zip()[:-40])  # truncated: no central directory
    only = (fra_source("https://tf.example/cut/fra-eng.zip") if case == "cut" else fra_source(),)
    assert run(base, dest, sources=only) == 1
    assert expect in one_error_line(capsys.readouterr().err)
    assert list(dest.iterdir()) == []


def test_an_unreachable_host_is_one_clean_line(tmp_path, capsys):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert run(f"http://127.0.0.1:{port}", tmp_path / "data") == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("training.data_download:")]
    assert len(lines) == 2 and all("cannot connect" in line for line in lines) and "Traceback" not in err


def test_a_failing_source_does_not_stop_the_others(site, tmp_path, capsys):
    root, base, _ = site
    dest = tmp_path / "data"
    (root / "data" / "fra-eng.zip").unlink()
    assert run(base, dest) == 1
    assert "HTTP 404" in one_error_line(capsys.readouterr().err)
    assert [p.name for p in dest.iterdir()] == ["all_stocks_5yr.csv"]


def test_list_prints_the_sources_and_downloads_nothing(site, tmp_path, capsys):
    _, base, requests = site
    assert main(["--list", "--base-url", base, "--dest", "somewhere"], sources=sources()) == 0
    out = capsys.readouterr().out
    assert f"{base}/data/fra-eng.zip (sha256 not pinned)" in out and "somewhere/fra.txt" in out
    assert f"{base}/sp/all_stocks_5yr.csv (sha256 {sha(PRICES)})" in out
    assert requests == [] and not (tmp_path / "somewhere").exists()


def test_base_url_replaces_scheme_and_host_and_may_add_a_path_in_front():
    url = "https://storage.example/data/fra-eng.zip?x=1"
    assert data_download.rebase(url, None) == url
    assert data_download.rebase(url, "http://127.0.0.1:9") == "http://127.0.0.1:9/data/fra-eng.zip?x=1"
    assert data_download.rebase(url, "http://mirror.lan/anki/") == "http://mirror.lan/anki/data/fra-eng.zip?x=1"


def test_an_unknown_source_name_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--only", "tatoeba-fr,klingon"], sources=sources())
    assert stop.value.code == 2 and "no source named klingon" in capsys.readouterr().err


def test_the_real_table_pins_the_project_data_files():
    """Each file's checksum in SOURCES is the project's copy's (where ../shared/data exists here)."""
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    targets = [target for source in SOURCES for target in source.targets]
    assert sorted(t.name for t in targets) == ["all_stocks_5yr.csv", "deu.txt", "fra.txt", "spa.txt"]
    if not shared.is_dir():
        pytest.skip(f"no {shared}")
    for target in targets:
        assert sha((shared / target.name).read_bytes()) == target.sha256, target.name
    # the copy has none of the tickers the download drops
    names = {line.rsplit(b",", 1)[-1] for line in (shared / "all_stocks_5yr.csv").read_bytes().splitlines()[1:]}
    assert len(names) == 455 and not names & {name.encode() for name in data_download.HELD_OUT}
