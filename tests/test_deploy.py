"""Deploying (opt-in): API keys (401), rate limits (429), request ids and CORS; with none of the
settings the service answers as before."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from fastapi.testclient import TestClient

from app.api.security import TokenBuckets, is_open, read_key_file
from app.core.config import Settings
from app.main import create_app

GOOD, OTHER, FILED = "key-one-0123", "key-two-4567", "key-in-file-89ab"  # FILED only as a digest in a file
HEX32 = re.compile(r"[0-9a-f]{32}")


def settings(model_dir, **options) -> Settings:
    return Settings(checkpoint_dir=model_dir.parent, models=[model_dir.name], **options)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def count(client: TestClient, endpoint: str, status: int, method: str = "POST") -> float:
    labels = f'attnserve_requests_total{{endpoint="{endpoint}",method="{method}",status="{status}"}}'
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(labels):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "keys.sha256"
    digest = hashlib.sha256(FILED.encode()).hexdigest()
    path.write_text(f"# deploy keys\n\n{digest}  # the CI client\n{'0' * 64}\n")
    return path


@pytest.fixture(scope="module")
def plain(tiny_translator_dir):
    with TestClient(create_app(settings(tiny_translator_dir))) as c:
        yield c


@pytest.fixture(scope="module")
def keyed(tiny_translator_dir, key_file):
    app = create_app(settings(tiny_translator_dir, api_keys=[GOOD, OTHER], api_keys_file=key_file))
    with TestClient(app) as c:
        yield c


# ---- API keys ------------------------------------------------------------------------------------


def test_default_settings_need_no_key(plain):
    assert plain.post("/translate", json={"text": "ab cd"}).status_code == 200
    assert plain.get("/models").status_code == 200
    assert plain.options("/translate").status_code == 405  # no CORS: a preflight is refused as before


@pytest.mark.parametrize("path,body", [("/translate", {"text": "ab cd"}), ("/models", None)])
def test_no_key_is_401_saying_the_key_is_missing(keyed, path, body):
    response = keyed.post(path, json=body) if body else keyed.get(path)
    assert response.status_code == 401, response.text
    assert response.json()["message"].startswith("missing API key")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", [f"Bearer {GOOD}x", "Bearer ", f"Basic {GOOD}", f"bearer {FILED[:-1]}"])
def test_wrong_key_is_401_without_repeating_it(keyed, header):
    response = keyed.post("/translate", json={"text": "ab cd"}, headers={"Authorization": header})
    assert response.status_code == 401, response.text
    assert response.json()["message"].startswith("invalid API key")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert GOOD not in response.text and FILED[:-1] not in response.text


@pytest.mark.parametrize("key", [GOOD, OTHER, FILED])
def test_configured_keys_and_key_file_digests_are_accepted(keyed, key):
    assert keyed.post("/translate", json={"text": "ab cd"}, headers=bearer(key)).status_code == 200
    assert keyed.get("/models", headers={"Authorization": f"bearer  {key} "}).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/", "/static/app.js"])
def test_health_metrics_docs_and_page_stay_open(keyed, path):
    assert keyed.get(path).status_code == 200


def test_401_is_counted_under_its_route_and_keys_are_never_logged(keyed, capsys, caplog):
    before = count(keyed, "/translate", 401)
    keyed.post("/translate", json={"text": "ab cd"}, headers=bearer(GOOD + "-wrong"))
    keyed.post("/translate", json={"text": "ab cd"}, headers=bearer(GOOD))
    assert count(keyed, "/translate", 401) == before + 1
    out, err = capsys.readouterr()
    logged = out + err + caplog.text
    assert '"path": "/translate"' in logged  # the access log was captured here
    assert GOOD not in logged


def test_docs_offer_the_key_for_the_model_endpoints(keyed, plain):
    schema = keyed.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert schema["paths"]["/translate"]["post"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in schema["paths"]["/healthz"]["get"]
    assert "securitySchemes" not in plain.get("/openapi.json").json().get("components", {})


def test_open_paths_are_configurable(tiny_translator_dir):
    app = create_app(settings(tiny_translator_dir, api_keys=[GOOD], open_paths="/healthz,/models"))
    with TestClient(app) as client:
        assert client.get("/models").status_code == 200
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=bearer(GOOD)).status_code == 200


def test_open_path_prefixes():
    assert is_open("/static/app.js", ["/static/*"]) and is_open("/", ["/"])
    assert not is_open("/translate", ["/", "/static/*"])
    assert not is_open("/healthz/x", ["/healthz"])
    with pytest.raises(ValueError, match="starts with '/'"):
        Settings(open_paths="healthz")


def test_key_file_line_that_is_no_digest_is_refused_without_echoing_it(tmp_path):
    path = tmp_path / "keys"
    path.write_text(f"# ok\n{'a' * 64}\nmy-raw-secret-key\n")
    with pytest.raises(ValueError, match="line 3: not a SHA-256 hex digest") as error:
        read_key_file(path)
    assert "my-raw-secret-key" not in str(error.value)


# ---- rate limits ---------------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_bursts_waits_and_refills():
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, max_clients=10, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # one token comes back in 1 / rate seconds
    assert buckets.take("b") == 0.0  # another client has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0
    clock.now += 60  # refilled, but never past the burst
    assert [buckets.take("a") for _ in range(4)][-1] > 0


def test_bucket_memory_is_bounded_forgetting_the_least_recently_seen():
    buckets = TokenBuckets(rate=1.0, burst=1, max_clients=3, clock=Clock())
    for client in range(1000):
        buckets.take(client)
    assert len(buckets) == 3
    assert buckets.take(999) > 0  # still remembered: spent
    assert buckets.take(0) == 0.0  # forgotten: starts full


def test_burst_then_429_with_retry_after_per_key(tiny_translator_dir):
    app = create_app(settings(tiny_translator_dir, api_keys=[GOOD, OTHER], rate_limit=0.01, rate_burst=3))
    with TestClient(app) as client:
        assert [client.get("/models", headers=bearer(GOOD)).status_code for _ in range(3)] == [200] * 3
        before = count(client, "/models", 429, "GET")
        response = client.get("/models", headers=bearer(GOOD))
        assert response.status_code == 429, response.text
        assert 1 <= int(response.headers["retry-after"]) <= 100  # 1 / 0.01 s at most, whole seconds
        message = response.json()["message"]
        assert "0.01 requests per second per API key" in message and "ATTNSERVE_RATE_LIMIT" in message
        assert count(client, "/models", 429, "GET") == before + 1
        assert client.post("/translate", json={"text": "ab"}, headers=bearer(GOOD)).status_code == 429
        assert client.get("/models", headers=bearer(OTHER)).status_code == 200  # another key: its own bucket
        assert all(client.get("/healthz").status_code == 200 for _ in range(5))  # open paths: no limit


def test_without_keys_the_limit_is_per_client_address_and_bounded(tiny_translator_dir):
    app = create_app(settings(tiny_translator_dir, rate_limit=0.01, rate_burst=1, rate_max_clients=4))
    with TestClient(app, client=("10.0.0.1", 1)) as first:
        assert first.get("/models").status_code == 200
        assert first.get("/models").status_code == 429
        second = TestClient(app, client=("10.0.0.2", 1))
        assert second.get("/models").status_code == 200
        for n in range(3, 20):
            assert TestClient(app, client=(f"10.0.0.{n}", 1)).get("/models").status_code == 200
        assert len(app.state.rate_buckets) == 4
        assert first.get("/models").status_code == 200  # forgotten among the many: a fresh bucket


# ---- request ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sane", ["abc-123", "trace.01:span_02", "x" * 128])
def test_sane_request_id_is_echoed(plain, sane):
    assert plain.get("/healthz", headers={"X-Request-ID": sane}).headers["x-request-id"] == sane


@pytest.mark.parametrize("odd", ["x" * 129, "a b", "<script>", "id\u00e9", ""])
def test_odd_request_id_is_replaced(plain, odd):
    answer = plain.get("/healthz", headers={"X-Request-ID": odd.encode("latin-1")}).headers["x-request-id"]
    assert HEX32.fullmatch(answer), answer


def test_request_id_is_generated_on_every_answer(plain, keyed):
    answers = [
        plain.get("/healthz"),
        plain.get("/healthz"),
        plain.post("/translate", json={"text": ""}),  # 422
        plain.post("/translate", content=b"x" * (2 << 20)),  # 413
        plain.get("/no/such/path"),  # 404
        keyed.get("/models"),  # 401
    ]
    assert [a.status_code for a in answers] == [200, 200, 422, 413, 404, 401]
    ids = [a.headers["x-request-id"] for a in answers]
    assert all(HEX32.fullmatch(i) for i in ids) and len(set(ids)) == len(ids)


def test_request_id_is_in_the_access_log_line(plain, capsys):
    capsys.readouterr()
    given = plain.post("/translate", json={"text": ""}, headers={"X-Request-ID": "req-42"})
    made = plain.get("/healthz")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["path"], e["request_id"]) for e in lines] == [
        ("/translate", "req-42"),
        ("/healthz", made.headers["x-request-id"]),
    ]
    assert given.headers["x-request-id"] == "req-42"


# ---- CORS ----------------------------------------------------------------------------------------

ALLOWED = "https://app.example.org"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}


@pytest.fixture(scope="module")
def cors(tiny_translator_dir):
    app = create_app(settings(tiny_translator_dir, cors_origins=f"{ALLOWED}, https://other.example", api_keys=[GOOD]))
    with TestClient(app) as c:
        yield c


def test_preflight_from_an_allowed_origin_is_200_without_a_key(cors):
    response = cors.options("/translate", headers={"Origin": ALLOWED, **PREFLIGHT})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert HEX32.fullmatch(response.headers["x-request-id"])


def test_preflight_from_another_origin_is_not_allowed(cors):
    response = cors.options("/translate", headers={"Origin": "https://evil.example", **PREFLIGHT})
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_cross_origin_answer_lets_the_page_read_the_request_id(cors):
    response = cors.post("/translate", json={"text": "ab cd"}, headers={"Origin": ALLOWED, **bearer(GOOD)})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()
    other = cors.post("/translate", json={"text": "ab cd"}, headers={"Origin": "https://evil.example", **bearer(GOOD)})
    assert "access-control-allow-origin" not in other.headers
