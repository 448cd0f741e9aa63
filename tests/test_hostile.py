"""A table of hostile requests across the endpoints: each gets its exact 4xx (never a 5xx) with a
message naming the field and the rule it broke."""

from __future__ import annotations

import json

import pytest
from conftest import HORIZON, LOOKBACK
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app

JSON = {"content-type": "application/json"}
PRICES = [100.0 + i % 5 for i in range(40)]


@pytest.fixture(scope="module")
def client(both_models_dir):
    names = sorted(p.name for p in both_models_dir.iterdir())
    settings = Settings(checkpoint_dir=both_models_dir, models=names)
    with TestClient(create_app(settings)) as c:
        yield c


def raw(body: bytes, headers=JSON) -> dict:
    return {"content": body, "headers": headers}


def js(value) -> dict:
    return {"content": json.dumps(value).encode(), "headers": JSON}


CSV_HEAD = b"Date,Open,High,Low,Close,Adj Close,Volume\n"


def csv_file(data: bytes) -> dict:
    return {"files": {"file": ("prices.csv", data, "text/csv")}}


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def upload(name: str, data: bytes) -> dict:
    return {"files": {"file": (name, data)}, "data": {"source_lang": "en", "target_lang": "fr"}}


def zip_of(entries: dict[str, bytes], level: int = 9) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buffer.getvalue()


def xxe_docx() -> bytes:
    """A real .docx whose document part declares an external entity (file:///etc/passwd) and uses it."""
    import io
    import zipfile

    import docx

    buffer = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("XXE_HERE")
    document.save(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    xml = parts["word/document.xml"].decode()
    head, _, body = xml.partition("?>")
    doctype = '<!DOCTYPE w:document [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    parts["word/document.xml"] = (head + "?>" + doctype + body.replace("XXE_HERE", "&x;")).encode()
    return zip_of(parts)


HOSTILE = [
    # (method, path, request kwargs, expected status, words the message must contain)
    ("POST", "/translate", raw(b""), 422, "body: Field required"),
    ("POST", "/translate", raw(b"not json"), 400, "body: not valid JSON (Expecting value, at character 0)"),
    # a key twice, bytes that are not UTF-8, nesting deeper than the parser goes: the cause and where
    (
        "POST",
        "/translate",
        raw(b'{"text": "Hello.", "text": "Bye."}'),
        400,
        'key "text" given twice in one object, at character 19',
    ),
    ("POST", "/forecast/batch", raw(b'{"series": [{"prices": [1], "prices": [2]}]}'), 400, 'key "prices" given twice'),
    (
        "POST",
        "/translate",
        raw(b'{"text": "caf\xe9"}'),
        400,
        "not UTF-8: byte 0xe9 (byte 13), invalid continuation byte",
    ),
    ("POST", "/translate", raw(b"[" * 100_000), 400, "nested more than 64 levels deep, at character 64"),
    ("POST", "/translate", raw(b'{"text": "abc'), 400, "not valid JSON (Unterminated string"),
    (
        "POST",
        "/translate",
        raw(b"\xff\xfe\xfa"),
        400,
        "not UTF-8: byte 0xff (byte 0), invalid start byte, at character 0",
    ),
    ("POST", "/translate", raw(b'{"text": "\xff\xfe"}'), 400, "not UTF-8: byte 0xff (byte 10)"),
    ("POST", "/translate", raw(b"x" * (10 << 20)), 413, "ATTNSERVE_MAX_BODY_BYTES"),
    (
        "POST",
        "/translate",
        raw(deep(100_000)),
        400,
        "nested more than 64 levels deep, at character",
    ),  # nesting deeper than the JSON parser goes
    ("POST", "/translate", raw(b'{"text": "ab"}', {"content-type": "text/plain"}), 415, "send JSON with content-type"),
    ("POST", "/translate", raw(b'{"text": "ab"}', {}), 415, "send JSON with content-type: application/json (got"),
    ("POST", "/translate", js(None), 422, "valid dictionary"),
    ("POST", "/translate", js([]), 422, "valid dictionary"),
    ("POST", "/translate", js("ab cd"), 422, "valid dictionary"),
    ("POST", "/translate", js(12), 422, "valid dictionary"),
    ("POST", "/translate", js({}), 422, "text: Field required"),
    ("POST", "/translate", js({"text": ""}), 422, "text: must contain at least one visible character"),
    ("POST", "/translate", js({"text": "\u200b \u00a0\t"}), 422, "text: must contain at least one visible character"),
    ("POST", "/translate", js({"text": "x" * 6000}), 422, "text: must be at most 5000 characters"),
    ("POST", "/translate", js({"text": {"nested": ["junk", {"a": 1}]}}), 422, "text: Input should be a valid string"),
    ("POST", "/translate", js({"text": ["ab"]}), 422, "text: Input should be a valid string"),
    ("POST", "/translate", js({"text": True}), 422, "text: Input should be a valid string"),
    (
        "POST",
        "/translate",
        js({"text": "ab", "beam_size": -1}),
        422,
        "beam_size: Input should be greater than or equal to 1",
    ),
    (
        "POST",
        "/translate",
        js({"text": "ab", "beam_size": 10**30}),
        422,
        "beam_size: Input should be less than or equal to 16",
    ),
    ("POST", "/translate", js({"text": "ab", "beam_size": 2.5}), 422, "beam_size: Input should be a valid integer"),
    ("POST", "/translate", js({"text": "ab", "beam_size": None}), 422, "beam_size: Input should be a valid integer"),
    ("POST", "/translate", raw(b'{"text": "ab", "beam_size": NaN}'), 422, "beam_size: Input should be a valid integer"),
    (
        "POST",
        "/translate",
        js({"text": "ab", "max_length": -5}),
        422,
        "max_length: Input should be greater than or equal to 1",
    ),
    (
        "POST",
        "/translate",
        js({"text": "ab", "source_lang": "xx", "target_lang": "yy"}),
        422,
        "xx->yy is not served; pairs served: en->fr",
    ),
    (
        "POST",
        "/translate",
        js({"text": "ab", "__proto__": {"admin": True}}),
        422,
        "__proto__: Extra inputs are not permitted",
    ),
    ("POST", "/translate/batch", js({"texts": None}), 422, "texts: Input should be a valid list"),
    ("POST", "/translate/batch", js({"texts": [None]}), 422, "texts.0: Input should be a valid string"),
    ("POST", "/translate/batch", js({"texts": ["ab"] * 1000}), 422, "texts: must hold at most 64 texts"),
    (
        "POST",
        "/translate/batch",
        js({"texts": ["ab"] * 64, "beam_size": 16, "max_length": 256}),
        422,
        "texts: costs ",
    ),  # within every other limit, but it would hold the model for many seconds
    ("POST", "/translate/batch", js({"texts": [["ab"]]}), 422, "texts.0: Input should be a valid string"),
    ("POST", "/forecast", raw(b'{"prices": [1, 2, NaN]}'), 422, "prices.2: Input should be a finite number"),
    ("POST", "/forecast", raw(b'{"prices": [Infinity]}'), 422, "prices.0: Input should be a finite number"),
    ("POST", "/forecast", raw(b'{"prices": [-Infinity, 1]}'), 422, "prices.0: Input should be a finite number"),
    ("POST", "/forecast", js({"prices": [-1.0] * 40}), 422, "prices.0: Input should be greater than 0"),
    ("POST", "/forecast", js({"prices": [0] * 40}), 422, "prices.0: Input should be greater than 0"),
    ("POST", "/forecast", js({"prices": ["100"] * 40}), 422, "prices.0: Input should be a valid number"),
    ("POST", "/forecast", js({"prices": [None] * 40}), 422, "prices.0: Input should be a valid number"),
    ("POST", "/forecast", js({"prices": [[1.0]] * 40}), 422, "prices.0: Input should be a valid number"),
    ("POST", "/forecast", js({"prices": {"a": 1}}), 422, "prices: Input should be a valid list"),
    ("POST", "/forecast", js({"prices": PRICES[:3]}), 422, f"prices: needs at least {LOOKBACK} prices"),
    ("POST", "/forecast", js({"prices": [1.0] * 20_000}), 422, "prices: List should have at most 10000 items"),
    ("POST", "/forecast", js({"prices": PRICES, "horizon": 10**9}), 422, f"horizon: must be at most {HORIZON}"),
    ("POST", "/forecast", js({"prices": PRICES, "horizon": "5"}), 422, "horizon: Input should be a valid integer"),
    (
        "POST",
        "/forecast",
        js({"prices": PRICES, "interval": 1.5}),
        422,
        "interval: 1.5 is not served; levels served: [0.8, 0.9]",
    ),
    ("POST", "/forecast", js({"prices": PRICES, "interval": "0.8"}), 422, "interval: Input should be a valid number"),
    (
        "POST",
        "/forecast",
        js({"prices": PRICES, "dates": ["2024-02-30"] * 40}),
        422,
        "dates.0: Input should be a valid date",
    ),
    ("POST", "/forecast", js({"prices": PRICES, "dates": "2024-01-01"}), 422, "dates: Input should be a valid list"),
    ("POST", "/forecast", js({"prices": PRICES, "ticker": "AAPL"}), 422, "ticker: Extra inputs are not permitted"),
    (
        "POST",
        "/forecast/batch",
        js({"series": [{"prices": "junk"}]}),
        422,
        "series.0.prices: Input should be a valid list",
    ),
    (
        "POST",
        "/forecast/batch",
        js({"series": [{"prices": PRICES}] * 300}),
        422,
        "series: must hold at most 256 series",
    ),
    ("POST", "/forecast/batch", js({"series": {"prices": PRICES}}), 422, "series: Input should be a valid list"),
    ("POST", "/forecast/csv", js({"prices": PRICES}), 422, "body.file: Field required"),
    ("POST", "/forecast/csv", {"data": {"file": "not a file"}}, 422, "body.file: Value error, Expected UploadFile"),
    ("POST", "/forecast/csv", raw(b"", {"content-type": "multipart/form-data"}), 400, "Missing boundary"),
    ("POST", "/forecast/csv", csv_file(b"\x89PNG\r\n\x1a\n\x00"), 422, "body.file: is not UTF-8 text (byte 0)"),
    ("POST", "/forecast/csv", csv_file(b"a,b\n1,2\n"), 422, "body.file: not a daily price CSV: its header must be"),
    ("POST", "/forecast/csv", csv_file(b"x" * 200_000), 422, "body.file: is not a readable CSV (field larger"),
    (
        "POST",
        "/forecast/csv",
        csv_file(CSV_HEAD + b"2024-01-02,1,1,1,1,1,1\x00\n"),
        422,
        "line 2, Volume: '1\\x00' is not",
    ),
    (
        "POST",
        "/forecast/csv",
        csv_file(CSV_HEAD + b"2024-01-02,1e400,1,1,1,1,1\n"),
        422,
        "line 2, Open: must be a finite",
    ),
    ("POST", "/forecast/csv?horizon=99999999999999999999", csv_file(CSV_HEAD), 422, "query.horizon: must be at most"),
    ("POST", "/forecast/csv?interval=nan", csv_file(CSV_HEAD), 422, "query.interval: nan is not served"),
    ("POST", "/forecast/csv?calendar=%ED%A0%80", csv_file(CSV_HEAD), 422, "query.calendar: '"),
    ("POST", "/forecast/csv?ticker=", csv_file(CSV_HEAD), 422, "query.ticker: String should have at least 1 character"),
    ("POST", "/forecast/csv", raw(b"x" * (33 << 20), {}), 413, "ATTNSERVE_MAX_UPLOAD_BYTES"),
    # documents: a type not served or mislabelled, a zip bomb, XML entities, no text, another key's job
    ("POST", "/translate/file", upload("report.pdf", b"%PDF-1.7"), 415, "'.pdf' files are not served; send one of"),
    ("POST", "/translate/file", upload("notes.txt", b"%PDF-1.7\n"), 415, "is named .txt but holds a PDF"),
    ("POST", "/translate/file", upload("a.docx", b"plain text"), 415, "is named .docx but is not a Word document"),
    (
        "POST",
        "/translate/file",
        upload("bomb.docx", zip_of({"word/document.xml": b"0" * 60_000_000})),
        413,
        "the .docx unpacks to 60,000,000 bytes, over the limit of 50,000,000",
    ),
    ("POST", "/translate/file", upload("xxe.docx", xxe_docx()), 422, "DOCTYPE"),
    ("POST", "/translate/file", upload("empty.html", b"<script>x()</script>"), 422, "no text to translate"),
    ("POST", "/translate/file", upload("a.txt", b"ab cd") | {"data": {"beam_size": "99"}}, 422, "beam_size"),
    ("POST", "/translate/file", raw(b"x" * (33 << 20), {}), 413, "ATTNSERVE_MAX_UPLOAD_BYTES"),
    ("GET", "/jobs/0123456789abcdef", {}, 404, "no job '0123456789abcdef'"),
    ("GET", "/jobs/0123456789abcdef/result", {}, 404, "no job"),
    ("DELETE", "/jobs/0123456789abcdef", {}, 404, "no job"),
    ("GET", "/translate", {}, 405, "Method Not Allowed"),
    ("DELETE", "/forecast", {}, 405, "Method Not Allowed"),
    ("GET", "/no/such/path", {}, 404, "Not Found"),
    ("GET", "/models/../../etc/passwd", {}, 404, "Not Found"),
]


@pytest.mark.parametrize(
    "method,path,kwargs,status,words", HOSTILE, ids=[f"{i}-{m} {p}" for i, (m, p, *_rest) in enumerate(HOSTILE)]
)
def test_hostile_input_gets_4xx_naming_field_and_rule(client, method, path, kwargs, status, words):
    response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text[:300]
    assert words in response.json()["message"], response.text[:300]
