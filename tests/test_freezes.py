"""Bodies that froze the whole server (issue 25): a list of a million invalid items made pydantic
list one error per item and the 422 repeat them all (40 s, 63 MB), while /healthz waited.

Each case runs against a live server: the bad body is sent from a thread and, while it is handled,
/healthz must answer within a second; the 422 comes within a few seconds, small, naming the field
and the rule, and counting what it does not list.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from conftest import start_uvicorn

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def server(untrained_forecaster_dir, tmp_path_factory):
    env = {"ATTNSERVE_CHECKPOINT_DIR": str(untrained_forecaster_dir), "ATTNSERVE_MODELS": "fc"}
    log = open(tmp_path_factory.mktemp("freezes") / "server.log", "w+b")
    process, base = start_uvicorn(env, log)
    yield base
    process.terminate()
    process.wait(timeout=60)
    log.close()


def body(payload: str) -> bytes:
    data = payload.encode()
    assert len(data) < 1 << 20, len(data)  # under ATTNSERVE_MAX_BODY_BYTES: the schema must refuse it
    return data


ZEROS = ",".join(["0"] * 10_000)
CASES = {
    "52 series of 10,000 zero prices": (
        "/forecast/batch",
        body('{"series": [' + ",".join([f'{{"prices": [{ZEROS}]}}'] * 52) + "]}"),
        [
            "body.series.0.prices.0: Input should be greater than 0",
            "9995 more invalid items not listed",  # in series 0's prices
            "11 more errors not listed",  # by the answer
        ],
    ),
    "300,000 numbers as texts": (
        "/translate/batch",
        body(json.dumps({"texts": [1] * 300_000})),
        ["body.texts: List should have at most 4096 items after validation, not 300000"],
    ),
    "100,000 lone surrogates": (
        "/translate/batch",
        body('{"texts": [' + ",".join(['"\\ud800"'] * 100_000) + "]}"),
        ["body.texts: List should have at most 4096 items after validation, not 100000"],
    ),
    "1,500 series of 60 zeros": (
        "/forecast/batch",
        body('{"series": [' + ",".join(['{"prices": [' + ",".join(["0"] * 60) + "]}"] * 1500) + "]}"),
        [
            "body.series.0.prices.0: Input should be greater than 0",
            "55 more invalid items not listed",
            "11 more errors not listed",
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_body_is_refused_fast_and_the_server_stays_live(server, case):
    path, data, says = CASES[case]
    answer: dict = {}

    def send():
        start = time.perf_counter()
        answer["response"] = httpx.post(f"{server}{path}", content=data, headers=JSON, timeout=120)
        answer["seconds"] = time.perf_counter() - start

    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(0.05)  # the body is on its way
    probes = []
    while True:
        start = time.perf_counter()
        try:
            health = httpx.get(f"{server}/healthz", timeout=1.0)
        except httpx.TimeoutException:
            health = None
        probes.append(time.perf_counter() - start)
        if health is None or not sender.is_alive():
            break
        time.sleep(0.05)
    sender.join()
    assert health is not None and health.status_code == 200, f"/healthz stalled: probes {probes}"
    assert max(probes) < 1.0, probes
    response = answer["response"]
    assert response.status_code == 422, response.text[:300]
    assert answer["seconds"] < 5.0, answer["seconds"]
    assert len(response.content) < 20_000, len(response.content)
    assert says[0] in response.json()["message"], response.text  # the field and the rule
    for words in says[1:]:  # the count of what it does not list
        assert words in response.text, response.text


def test_an_answer_lists_at_most_20_errors_and_counts_the_rest(server):
    """Five series with two bad fields each and a bad option: 11 errors per series' fields listed
    at most 20 in all, the message says how many are left out."""
    series = [{"prices": [0] * 30, "dates": [1] * 30, "horizon": 0} for _ in range(5)]
    response = httpx.post(f"{server}/forecast/batch", json={"series": series}, timeout=30)
    assert response.status_code == 422
    answer = response.json()
    detail = answer["detail"]
    assert len(detail) == 21, detail
    total = 5 * (6 + 6 + 1)  # per series: 5 prices + their count, 5 dates + their count, the horizon
    assert detail[-1]["type"] == "too_many_errors" and detail[-1]["ctx"] == {"rest": total - 20}
    assert answer["message"].endswith(f"and {total - 5} more errors (15 in detail, {total - 20} not listed)")


def test_texts_of_the_wrong_kind_list_the_first_five(server):
    response = httpx.post(f"{server}/translate/batch", json={"texts": [1] * 4000}, timeout=30)
    assert response.status_code == 422
    answer = response.json()
    assert answer["message"].startswith("body.texts.0: Input should be a valid string; body.texts.1:"), answer
    assert answer["message"].endswith("and 1 more errors (see detail)"), answer
    assert answer["detail"][-1]["loc"] == ["body", "texts"]
    assert answer["detail"][-1]["msg"] == "3995 more invalid items not listed (validation stopped at item 4)"
