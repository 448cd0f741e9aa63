"""Translate a file from the command line, against a running server or in this process.

    python -m app.translate_file report.docx --to fr                      # in-process: loads the models
    python -m app.translate_file report.docx --to fr --server http://localhost:8000
    python -m app.translate_file subtitles.srt --from en --to de --out subtitles.de.srt

Formats: .txt, .md, .html, .docx, .srt (the same as POST /translate/file). The output is written
next to the input as <name>.<target>.<ext> unless --out says otherwise; progress goes to stderr.
Against a server, a large file becomes a job: the command follows it (GET /jobs/{id}) and
downloads the result. Exit status 0 on success, 1 with a one-line error otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from app.documents.document import DocumentError


def progress(done: int, total: int) -> None:
    """A one-line bar on stderr: [#########           ] 12/40 blocks."""
    stream, width = sys.stderr, 30
    filled = round(width * done / max(total, 1))
    stream.write(f"\r[{'#' * filled}{' ' * (width - filled)}] {done}/{total} blocks")
    stream.flush()
    if done >= total:
        stream.write("\n")


def multipart(path: Path, fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart/form-data body with ``fields`` and the file; (body, content type)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
    parts.append(head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + path.read_bytes() + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def call(request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of an HTTP call; an error status is returned, not raised."""
    try:
        with urllib.request.urlopen(request, timeout=600) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message") or body[:200].decode(errors="replace"))
    except (ValueError, AttributeError):
        return body[:200].decode(errors="replace")


def served_name(headers: dict[str, str]) -> str | None:
    """The file name a server gave its answer (Content-Disposition's UTF-8 name), if any."""
    value = next((v for k, v in headers.items() if k.lower() == "content-disposition"), "")
    found = re.search(r"filename\*=UTF-8''([^;]+)", value)
    return urllib.parse.unquote(found.group(1)) if found else None


def via_server(args: argparse.Namespace, headers: dict[str, str]) -> tuple[bytes, str | None]:
    """The translated file from a running server (following the job of a large file), and the
    name the server gave it."""
    fields = {"target_lang": args.to, "source_lang": args.source, "beam_size": str(args.beam_size)}
    body, kind = multipart(args.input, {k: v for k, v in fields.items() if v})
    base = args.server.rstrip("/")
    status, answer_headers, data = call(
        urllib.request.Request(f"{base}/translate/file", body, {**headers, "Content-Type": kind}, method="POST")
    )
    if status == 200:
        return data, served_name(answer_headers)
    if status != 202:
        raise SystemExit(f"error: {status}: {message(data)}")
    location = answer_headers.get("Location") or answer_headers.get("location") or ""
    while True:
        status, _, data = call(urllib.request.Request(f"{base}{location}", headers=headers))
        if status != 200:
            raise SystemExit(f"error: {status}: {message(data)}")
        job = json.loads(data)
        progress(job["blocks_done"], job["blocks_total"])
        if job["status"] == "failed":
            raise SystemExit(f"error: the job failed: {job['error']}")
        if job["status"] == "done":
            status, got, data = call(urllib.request.Request(f"{base}{job['result_url']}", headers=headers))
            if status != 200:
                raise SystemExit(f"error: {status}: {message(data)}")
            return data, served_name(got)
        time.sleep(1.0)


async def in_process(args: argparse.Namespace) -> tuple[bytes, str]:
    """The translated file and its target language, from the models loaded here."""
    from app.api.errors import InvalidField, NotLoaded
    from app.core.config import get_settings
    from app.core.registry import ModelRegistry
    from app.documents.formats import format_of
    from app.documents.jobs import limits_of
    from app.documents.pipeline import plan_document, translate_blocks
    from app.schemas.translate import DecodingOptions

    settings = get_settings()
    data = args.input.read_bytes()
    fmt = format_of(args.input.name, data)
    doc = fmt.read(data, limits_of(settings))
    registry = ModelRegistry(settings)
    registry.load_all()
    try:
        options = DecodingOptions(source_lang=args.source, target_lang=args.to, beam_size=args.beam_size)
        planned = plan_document(doc.blocks, options, registry, settings, ("file",))
        done = 0

        async def tick(results: list) -> None:
            nonlocal done
            done += len(results)
            progress(done, len(doc.blocks))

        progress(0, len(doc.blocks))
        out = await translate_blocks(planned, doc.blocks, options, registry, done=tick)
    except (InvalidField, NotLoaded) as error:
        raise SystemExit(f"error: {getattr(error, 'message', None) or error}") from None
    finally:
        registry.close()
    return doc.render([out[i] for i in range(len(doc.blocks))]), planned.route.target_lang


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m app.translate_file", description=__doc__.split("\n\n")[0])
    p.add_argument("input", type=Path, help="the file to translate (.txt, .md, .html, .docx, .srt)")
    p.add_argument("--to", default=None, help="target language (default: English, or French for English text)")
    p.add_argument("--from", dest="source", default=None, help="source language (default: detected)")
    p.add_argument("--out", type=Path, default=None, help="output file (default: <name>.<target>.<ext> beside it)")
    p.add_argument("--server", default=None, help="URL of a running attnserve (default: translate in this process)")
    p.add_argument("--api-key", default=None, help="the server's API key, when it has keys on")
    p.add_argument("--beam-size", type=int, default=5, help="beam width (1: greedy)")
    args = p.parse_args(argv)
    if not args.input.is_file():
        print(f"error: {args.input}: no such file", file=sys.stderr)
        return 1
    try:
        if args.server:
            headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
            data, name = via_server(args, headers)
        else:
            data, target = asyncio.run(in_process(args))
            name = None
    except DocumentError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    except SystemExit as error:
        print(str(error), file=sys.stderr)
        return 1
    from app.documents.formats import translated_name

    name = name or translated_name(args.input.name, (args.to or "translated") if args.server else target)
    out = args.out or args.input.with_name(name)
    out.write_bytes(data)
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
