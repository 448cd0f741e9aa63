"""`python -m app.translate_file`: a file translated in-process and against a running server."""

from __future__ import annotations

import pytest
from conftest import start_uvicorn

from app.core.config import get_settings
from app.translate_file import main


@pytest.fixture
def tiny_env(tiny_marks_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("ATTNSERVE_CHECKPOINT_DIR", str(tiny_marks_dir.parent))
    monkeypatch.setenv("ATTNSERVE_MODELS", tiny_marks_dir.name)
    monkeypatch.setenv("ATTNSERVE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.tiny_model
def test_in_process_writes_the_translation_beside_the_file_with_a_progress_bar(tiny_env, tmp_path, capsys):
    source = tmp_path / "notes.txt"
    source.write_text("ab cd ef\n\ngh ij\n")
    assert main([str(source), "--from", "en", "--to", "fr"]) == 0
    assert (tmp_path / "notes.fr.txt").read_text() == "EF CD AB\n\nIJ GH\n"
    err = capsys.readouterr().err
    assert "2/2 blocks" in err and "wrote" in err


@pytest.mark.tiny_model
def test_against_a_server_a_job_is_followed_to_its_file(tiny_marks_dir, tmp_path, capsys):
    env = {
        "ATTNSERVE_CHECKPOINT_DIR": str(tiny_marks_dir.parent),
        "ATTNSERVE_MODELS": tiny_marks_dir.name,
        "ATTNSERVE_DATA_DIR": str(tmp_path / "data"),
        "ATTNSERVE_MAX_REQUEST_COST": "50",  # every file a job
        "ATTNSERVE_JOB_POLL_S": "0.1",
        "ATTNSERVE_TORCH_THREADS": "1",
    }
    server, base = start_uvicorn(env, open(tmp_path / "server.log", "w+b"))
    try:
        source = tmp_path / "long.txt"
        source.write_text("\n\n".join(["ab cd ef", "gh ij"] * 5))
        out = tmp_path / "out.txt"
        assert main([str(source), "--from", "en", "--to", "fr", "--server", base, "--out", str(out)]) == 0
        assert out.read_text() == "\n\n".join(["EF CD AB", "IJ GH"] * 5)
        assert "10/10 blocks" in capsys.readouterr().err
        assert main([str(tmp_path / "missing.txt"), "--server", base]) == 1
        (tmp_path / "a.pdf").write_bytes(b"%PDF")
        assert main([str(tmp_path / "a.pdf"), "--server", base]) == 1
        assert "415" in capsys.readouterr().err
    finally:
        server.terminate()
        server.wait(20)
