"""Hardening (issue 13): inputs that used to give 500 (lone surrogates, forecasts past 9999-12-31,
invisible text) and the smaller holes (metrics labels, 413 for clients that send the whole body
first, disconnects, echo size). Checkpoints that load wrong: tests/test_checkpoint_schema.py."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request

import httpx
import numpy as np
import pytest
from conftest import HORIZON, LOOKBACK, start_uvicorn
from fastapi.testclient import TestClient

from app.api.errors import InvalidField, validation_handler
from app.core.config import Settings
from app.main import create_app
from models.forecasting.calendar import get_calendar

JSON = {"content-type": "application/json"}
PRICES = [100.0 + i % 5 for i in range(2 * LOOKBACK)]


@pytest.fixture(scope="module")
def client(both_models_dir):
    names = sorted(p.name for p in both_models_dir.iterdir())
    with TestClient(create_app(Settings(checkpoint_dir=both_models_dir, models=names))) as c:
        yield c


def post_raw(client, path: str, body: str):
    """``body`` is JSON text sent as it is: ``\\ud800`` stays an escape, which json.dumps of a
    Python string could not produce from a lone surrogate without ensure_ascii."""
    return client.post(path, content=body.encode(), headers=JSON)


# ---- lone surrogates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,body,field",
    [
        ("/translate", r'{"text": "ab \ud800 cd"}', "body.text"),
        ("/translate", r'{"text": "\udfff"}', "body.text"),
        ("/translate/batch", r'{"texts": ["ab cd", "ef \ud800"]}', "body.texts.1"),
        ("/translate", r'{"text": "ab", "source_lang": "\ud800"}', "body.source_lang"),
        ("/translate", r'{"text": "ab", "target_lang": "fr\udc00"}', "body.target_lang"),
    ],
)
def test_lone_surrogate_is_422_naming_the_field(client, path, body, field):
    response = post_raw(client, path, body)
    assert response.status_code == 422, response.text[:300]
    message = response.json()["message"]
    assert message.startswith(f"{field}: must be valid Unicode text: a lone surrogate U+D"), message


def test_surrogate_pair_is_one_character_and_accepted(client):
    # an escaped pair (U+1F600) is valid JSON for one real character, not two lone halves
    response = post_raw(client, "/translate", r'{"text": "ab cd \ud83d\ude00"}')
    assert response.status_code == 200, response.text[:300]


def test_error_answer_survives_unencodable_characters():
    """Whatever reaches an error answer is written encodably (here a lone surrogate in both the
    field name and the message, which a UTF-8 JSON answer cannot hold as it is)."""
    error = InvalidField(("body", "name\ud800"), "bad value \udfff")
    response = asyncio.run(validation_handler(None, error))  # type: ignore[arg-type]  # the request is unused
    body = json.loads(response.body.decode("utf-8"))
    assert response.status_code == 422
    assert body["message"] == "body.name\\ud800: bad value \\udfff"


# ---- what an error answer repeats ----------------------------------------------------------------


def test_long_language_name_is_not_echoed_whole(client):
    response = client.post("/translate", json={"text": "ab", "source_lang": "x" * 900_000})
    assert response.status_code == 422
    assert len(response.content) < 2_000  # was 1.8 MB: the name twice
    assert "x" * 100 + "…(900000 characters)->*" in response.json()["message"]


def test_long_unknown_field_name_is_not_echoed_whole(client):
    response = client.post("/translate", json={"text": "ab", "y" * 900_000: 1})
    assert response.status_code == 422
    assert len(response.content) < 2_000
    assert "(900000 characters): Extra inputs are not permitted" in response.json()["message"]


# ---- text with nothing visible -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "\u0000\u0000",  # control characters (Cc)
        "\u200b\u200d\ufeff",  # zero-width space, joiner, byte-order mark (Cf)
        "\u3164\u2800",  # Hangul filler (Lo) and blank braille cell (So): letters and symbols drawn blank
        "\u115f\u1160\uffa0",  # the other Hangul fillers
        "\u0301\u0308",  # combining marks with nothing to combine with (Mn)
        "\u00a0\u2003\u3000 \t",  # spaces (Zs) and whitespace
    ],
)
def test_text_with_nothing_visible_is_422(client, text):
    single = client.post("/translate", json={"text": text})
    batch = client.post("/translate/batch", json={"texts": ["ab cd", text]})
    assert single.status_code == 422, single.text[:300]
    assert single.json()["message"].startswith("body.text: must contain at least one visible character")
    assert batch.status_code == 422, batch.text[:300]
    assert batch.json()["message"].startswith("body.texts.1: must contain at least one visible character")


def test_invisible_characters_beside_visible_ones_are_accepted(client):
    response = client.post("/translate", json={"text": "ab\u200b cd\u0301 \u3164ef"})
    assert response.status_code == 200, response.text[:300]


# ---- forecast dates near the end of the trading calendar -----------------------------------------


def dates_ending(last: str) -> list[str]:
    """len(PRICES) NYSE sessions ending on ``last``."""
    sessions = get_calendar("XNYS").sessions(np.datetime64(last) - np.timedelta64(400, "D"), last)
    return [str(d) for d in sessions[-len(PRICES) :]]


LAST_SESSIONS = get_calendar("XNYS").sessions("2035-11-01", str(get_calendar("XNYS").last))


def test_forecast_dates_may_end_on_the_calendars_last_session(client):
    response = client.post(
        "/forecast",
        json={"prices": PRICES, "horizon": HORIZON, "dates": dates_ending(str(LAST_SESSIONS[-1 - HORIZON]))},
    )
    assert response.status_code == 200, response.text[:300]
    assert response.json()["dates"][-1] == str(LAST_SESSIONS[-1])


def test_forecast_past_the_calendar_is_422_naming_the_field(client):
    late = dates_ending(str(LAST_SESSIONS[-HORIZON]))
    response = client.post("/forecast", json={"prices": PRICES, "horizon": HORIZON, "dates": late})
    assert response.status_code == 422, response.text[:300]
    message = response.json()["message"]
    assert message.startswith("body.dates: XNYS covers"), message
    assert f"past its last covered date {get_calendar('XNYS').last}" in message


def test_forecast_far_future_dates_are_422_not_500(client):
    """Dates up to 9999-12-31 (the last a date can hold) are refused by the calendar's coverage."""
    far = [str(d) for d in np.busday_offset("9999-12-31", np.arange(-len(PRICES) + 1, 1), roll="backward")]
    series = [{"prices": PRICES}, {"prices": PRICES, "horizon": 1}, {"prices": PRICES, "dates": far}]
    response = client.post("/forecast/batch", json={"series": series})
    assert response.status_code == 422, response.text[:300]
    assert response.json()["message"].startswith("body.series.2.dates: XNYS covers"), response.text[:300]


# ---- metrics labels, 413s and disconnects --------------------------------------------------------


def samples(metrics: str, name: str) -> dict[str, float]:
    """{label text: value} of one metric family's samples."""
    return {
        line[len(name) : line.rindex(" ")]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith(name + "{")
    }


def test_made_up_methods_share_one_label(client):
    for method in ("FOOBAR", "BREW", "PROPFIND"):
        assert client.request(method, "/translate").status_code == 405
        assert client.request(method, "/no/such/path").status_code == 404
    counts = samples(client.get("/metrics").text, "attnserve_requests_total")
    assert not [labels for labels in counts if "FOOBAR" in labels or "BREW" in labels or "PROPFIND" in labels]
    assert counts['{endpoint="/translate",method="other",status="405"}'] >= 3
    assert counts['{endpoint="unmatched",method="other",status="404"}'] >= 3


def test_413_is_counted_under_its_route(client):
    before = samples(client.get("/metrics").text, "attnserve_requests_total")
    for path in ("/translate", "/forecast/batch", "/no/such/path"):
        assert client.post(path, content=b"x" * (2 << 20), headers=JSON).status_code == 413
    after = samples(client.get("/metrics").text, "attnserve_requests_total")
    for endpoint in ("/translate", "/forecast/batch", "unmatched"):
        key = f'{{endpoint="{endpoint}",method="POST",status="413"}}'
        assert after.get(key, 0) == before.get(key, 0) + 1, (key, after)


@pytest.fixture(scope="module")
def server(tiny_translator_dir, tmp_path_factory):
    """A live uvicorn with the default limits (1 MiB bodies, 16 MiB drained)."""
    env = {"ATTNSERVE_CHECKPOINT_DIR": str(tiny_translator_dir.parent), "ATTNSERVE_MODELS": tiny_translator_dir.name}
    log = open(tmp_path_factory.mktemp("server") / "server.log", "w+b")
    process, base = start_uvicorn(env, log)
    yield base, log
    process.terminate()
    process.wait(timeout=30)
    log.close()


def test_client_that_sends_the_whole_body_first_reads_the_413(server):
    """urllib sends all 10 MB before it reads, with Connection: close: the server must read the
    body before it answers and closes, or the client meets a reset instead of the 413."""
    base, _ = server
    request = urllib.request.Request(f"{base}/translate", data=b"x" * (10 << 20), headers=JSON)
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=60)
    assert answer.value.code == 413
    assert "ATTNSERVE_MAX_BODY_BYTES" in json.loads(answer.value.read())["message"]


def test_client_gone_mid_body_is_499_not_500(server):
    base, log = server
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as raw:
        raw.sendall(
            b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n" + b'{"text": "ab'
        )
    key = '{endpoint="/translate",method="POST",status="499"}'
    for _ in range(100):  # the server notices the closed connection asynchronously
        counts = samples(httpx.get(f"{base}/metrics").text, "attnserve_requests_total")
        if key in counts:
            break
        time.sleep(0.05)
    assert counts.get(key) == 1, counts
    assert not [labels for labels in counts if 'status="500"' in labels], counts
    log.seek(0)
    lines = [json.loads(line) for line in log.read().decode().splitlines() if line.startswith("{")]
    assert {"path": "/translate", "status": 499} in [{k: e[k] for k in ("path", "status")} for e in lines]


def test_client_that_waits_to_send_the_body_gets_the_413_first(server):
    """With Expect: 100-continue the body is not on its way: the 413 comes at once, not a
    '100 Continue' that would invite 10 MB only to drop them."""
    base, _ = server
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(
            b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Expect: 100-Continue\r\nContent-Length: 10000000\r\n\r\n"
        )
        answer = raw.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
