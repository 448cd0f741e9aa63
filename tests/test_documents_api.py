"""POST /translate/file and the document jobs, end to end on the tiny reversal translator ("ab cd
ef" -> "EF CD AB": the right translation and the right place for a tag are known)."""

from __future__ import annotations

import io
import time

import docx
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app

PAIR = {"source_lang": "en", "target_lang": "fr"}


def client_for(folder, tmp_path, **settings) -> TestClient:
    settings = {"data_dir": tmp_path / "data", "job_poll_s": 0.05, **settings}
    return TestClient(create_app(Settings(checkpoint_dir=folder.parent, models=[folder.name], **settings)))


@pytest.fixture
def client(tiny_marks_dir, tmp_path):
    with client_for(tiny_marks_dir, tmp_path) as c:
        yield c


def send(client, name: str, data: bytes | str, **fields):
    body = data.encode() if isinstance(data, str) else data
    return client.post("/translate/file", files={"file": (name, io.BytesIO(body))}, data={**PAIR, **fields})


@pytest.mark.tiny_model
def test_a_text_file_comes_back_translated_in_its_layout_and_named_for_the_target(client):
    response = send(client, "notes.txt", "ab cd ef\r\ngh ij\r\n\r\nkl mn op\r\n")
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].startswith('attachment; filename="notes.fr.txt"')
    assert response.headers["content-language"] == "fr"
    assert response.content.decode() == "EF CD AB\r\nIJ GH\r\n\r\nOP MN KL\r\n"


@pytest.mark.tiny_model
def test_html_tags_land_on_the_words_their_attention_points_to(client):
    page = '<html><body><p>ab <b>cd</b> ef gh</p><p><a href="/x">ij kl</a> mn</p><script>ab()</script></body></html>'
    response = send(client, "page.html", page)
    assert response.status_code == 200, response.text
    out = response.content.decode()
    assert "<p>GH EF <b>CD</b> AB</p>" in out  # bold stays on the word it was on
    assert '<p>MN <a href="/x">KL IJ</a></p>' in out  # the link on its two words, target kept
    assert "<script>ab()</script>" in out


@pytest.mark.tiny_model
def test_markdown_keeps_code_and_link_targets(client):
    text = "# ab cd\n\nef `gh ij` kl [mn op](http://x.org/ab)\n\n```\nab cd\n```\n"
    response = send(client, "read.md", text)
    assert response.status_code == 200, response.text
    out = response.content.decode()
    assert out.startswith("# CD AB\n") and "`gh ij`" in out and "(http://x.org/ab)" in out
    assert "```\nab cd\n```" in out


@pytest.mark.tiny_model
def test_srt_keeps_timings_and_numbering(client):
    subtitles = "1\n00:00:01,000 --> 00:00:02,500\nab cd\nef gh\n\n2\n00:00:03,000 --> 00:00:04,000\n<i>ij kl</i>\n\n"
    response = send(client, "film.srt", subtitles)
    assert response.status_code == 200, response.text
    out = response.content.decode()
    assert "00:00:01,000 --> 00:00:02,500" in out and "00:00:03,000 --> 00:00:04,000" in out
    assert "<i>KL IJ</i>" in out and "GH EF" in out.replace("\n", " ")


@pytest.mark.tiny_model
def test_docx_runs_keep_their_formatting(client):
    document = docx.Document()
    paragraph = document.add_paragraph("ab ")
    paragraph.add_run("cd").bold = True
    paragraph.add_run(" ef gh")
    buffer = io.BytesIO()
    document.save(buffer)
    response = send(client, "letter.docx", buffer.getvalue())
    assert response.status_code == 200, response.text
    out = docx.Document(io.BytesIO(response.content)).paragraphs[0]
    assert out.text == "GH EF CD AB"
    assert [r.text for r in out.runs if r.bold] == ["CD"]


@pytest.mark.parametrize(
    ("name", "data", "status", "words"),
    [
        ("report.pdf", b"%PDF-1.7", 415, ".docx"),
        ("notes.txt", b"PK\x03\x04zip", 415, "zip archive"),
        ("letter.docx", b"not a zip", 415, "not a Word document"),
        ("empty.html", b"<html><script>x</script></html>", 422, "no text to translate"),
    ],
)
def test_bad_files_are_a_4xx_that_says_why(client, name, data, status, words):
    response = send(client, name, data)
    assert response.status_code == status, response.text
    assert words in response.json()["message"]


def test_a_file_over_the_upload_limit_is_413(tiny_marks_dir, tmp_path):
    with client_for(tiny_marks_dir, tmp_path, max_upload_bytes=100) as c:
        response = send(c, "notes.txt", "ab cd " * 40)
        assert response.status_code == 413 and "ATTNSERVE_MAX_UPLOAD_BYTES" in response.json()["message"]


def wait_for(client, location: str, until=lambda job: job["status"] in ("done", "failed"), seconds: float = 60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        job = client.get(location).json()
        if until(job):
            return job
        time.sleep(0.05)
    pytest.fail(f"job did not get there in {seconds} s: {job}")


@pytest.mark.tiny_model
def test_a_costly_file_becomes_a_job_that_reports_progress_and_downloads(tiny_marks_dir, tmp_path):
    paragraphs = "\n\n".join(["ab cd ef", "gh ij kl", "mn op qr"] * 12)
    with client_for(tiny_marks_dir, tmp_path, max_request_cost=200) as c:
        response = send(c, "long.txt", paragraphs)
        assert response.status_code == 202, response.text
        location = response.headers["location"]
        assert location == f"/jobs/{response.json()['id']}" and response.json()["blocks_total"] == 36
        job = wait_for(c, location)
        assert job["status"] == "done" and job["blocks_done"] == 36 and job["progress"] == 1.0
        result = c.get(job["result_url"])
        assert result.status_code == 200 and "long.fr.txt" in result.headers["content-disposition"]
        assert result.content.decode() == "\n\n".join(["EF CD AB", "KL IJ GH", "QR OP MN"] * 12)
        assert c.delete(location).status_code == 204
        assert c.get(location).status_code == 404


@pytest.mark.tiny_model
def test_a_job_interrupted_by_a_restart_resumes_and_stores_each_block_once(tiny_marks_dir, tmp_path, monkeypatch):
    from app.core.job_store import JobStore

    stored: list[int] = []
    original = JobStore.store_blocks
    slow = [0.2]  # the first server stores a round every 0.2 s: it is stopped long before the end

    def spy(self, job_id, worker, lease_s, results):
        time.sleep(slow[0])
        ok = original(self, job_id, worker, lease_s, results)
        stored.extend(i for i, _ in results if ok)
        return ok

    monkeypatch.setattr(JobStore, "store_blocks", spy)
    monkeypatch.setattr("app.documents.pipeline.BLOCKS_PER_ROUND", 4)
    text = "\n\n".join(f"{w} cd ef" for w in ["ab", "gh", "ij", "kl", "mn", "op"] * 10)  # 60 blocks: 15 rounds
    with client_for(tiny_marks_dir, tmp_path) as first:
        location = send(first, "long.txt", text, job="true").headers["location"]
        wait_for(first, location, until=lambda job: job["blocks_done"] >= 8)
    # the first server stopped mid-job: a second one on the same data directory finishes it
    assert 8 <= len(stored) < 60
    slow[0] = 0.0
    with client_for(tiny_marks_dir, tmp_path) as second:
        job = wait_for(second, location)
        assert job["status"] == "done", job
        out = second.get(job["result_url"]).content.decode().split("\n\n")
    assert sorted(stored) == list(range(60))  # every block stored, none twice
    assert out[:2] == ["EF CD AB", "EF CD GH"] and len(out) == 60


def test_jobs_of_another_key_are_not_found(tiny_marks_dir, tmp_path):
    keys = {"api_keys": ["key-one", "key-two"]}
    with client_for(tiny_marks_dir, tmp_path, **keys) as c:
        one, two = ({"Authorization": f"Bearer {k}"} for k in ("key-one", "key-two"))
        response = c.post(
            "/translate/file", files={"file": ("a.txt", b"ab cd")}, data={**PAIR, "job": "true"}, headers=one
        )
        assert response.status_code == 202, response.text
        location = response.headers["location"]
        assert c.get(location, headers=one).status_code == 200
        assert c.get(location, headers=two).status_code == 404
        assert c.delete(location, headers=two).status_code == 404
        assert c.get(location).status_code == 401
