"""The file formats served, how a file is recognised, and what its translation is called."""

from __future__ import annotations

from pathlib import PurePath
from urllib.parse import quote

from app.documents.document import DocumentError, Format
from app.documents.docx_format import DOCX
from app.documents.html_format import HTML
from app.documents.markdown_format import MARKDOWN
from app.documents.srt_format import SRT
from app.documents.text_format import TEXT

FORMATS = {f.name: f for f in (TEXT, MARKDOWN, HTML, DOCX, SRT)}
ZIP, PDF = b"PK\x03\x04", b"%PDF"


def supported() -> str:
    """The extensions served, for messages: ".txt, .md, .markdown, ...\""""
    return ", ".join(ext for f in FORMATS.values() for ext in f.extensions)


def format_of(filename: str, data: bytes) -> Format:
    """The format of an upload, by its name's extension; 415 (``DocumentError``) naming the served
    ones for another extension, and for content that is plainly another type than the name says
    (a zip or a PDF named .txt, a .docx that is not a zip)."""
    suffix = PurePath(filename).suffix.lower()
    found = next((f for f in FORMATS.values() if suffix in f.extensions), None)
    if found is None:
        shown = f"{suffix!r} files" if suffix else "files without an extension"
        raise DocumentError(415, f"{shown} are not served; send one of: {supported()}")
    if found is DOCX and not data.startswith(ZIP):
        raise DocumentError(415, f"{filename!r} is named .docx but is not a Word document (not a zip archive)")
    if found is not DOCX and data.startswith((ZIP, PDF)):
        kind = "a zip archive (.docx?)" if data.startswith(ZIP) else "a PDF"
        raise DocumentError(415, f"{filename!r} is named {suffix} but holds {kind}; send one of: {supported()}")
    return found


def translated_name(filename: str, target_lang: str) -> str:
    """report.docx -> report.fr.docx (a name without a stem: document.fr.<ext>)."""
    path = PurePath(PurePath(filename).name or "document")
    stem = path.stem or "document"
    return f"{stem}.{target_lang}{path.suffix}"


def disposition(name: str) -> str:
    """A Content-Disposition for downloading ``name`` (an ASCII fallback, and the UTF-8 name)."""
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
