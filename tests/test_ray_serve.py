"""attnserve on Ray Serve (app/ray_app.py): a local Ray cluster of 2 CPUs (no dashboard, no usage
stats), 2 replicas of the same FastAPI app on the tiny models; both answer /translate and /forecast
as the app answers in-process, a replica killed under load costs no request that a client retrying
a 503 does not get answered, and everything shuts down. Ray is the optional ``ray`` extra: without
it this skips, or fails with ATTNSERVE_REQUIRE_RAY=1 (CI's `make test-ray`)."""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import free_port
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from bench.common import haproxy_env

try:
    import ray
    from ray import serve
except ImportError:  # the optional extra
    if os.environ.get("ATTNSERVE_REQUIRE_RAY") == "1":
        raise
    pytest.skip("Ray is not installed (pip install -e '.[ray]')", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
TEXT = {"text": "ab cd ef", "source_lang": "en", "target_lang": "fr", "beam_size": 2}


@pytest.fixture(scope="module")
def models(both_models_dir):
    return {
        "ATTNSERVE_CHECKPOINT_DIR": str(both_models_dir),
        "ATTNSERVE_MODELS": ",".join(sorted(p.name for p in both_models_dir.iterdir())),
        "ATTNSERVE_TORCH_THREADS": "1",
        "ATTNSERVE_DATA_DIR": str(both_models_dir.parent / "ray-data"),
        "RAY_USAGE_STATS_ENABLED": "0",
    }


@contextmanager
def two_replicas(env_vars: dict[str, str], **init):
    """A Ray cluster (``ray.init(**init)``) running 2 replicas of app.ray_app with ``env_vars``;
    yields the ingress's URL, and shuts Serve and Ray down after."""
    from app.ray_app import deployment

    port = free_port()
    ray.init(**init, runtime_env={"env_vars": env_vars}, log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(deployment.options(num_replicas=2).bind(), name="attnserve", route_prefix="/")
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


@pytest.fixture(params=["proxy", "haproxy"])
def cluster(request, models, monkeypatch):
    """2 replicas on a local 2-CPU cluster behind Ray's Python proxy or its HAProxy ingress;
    yields (ingress, URL)."""
    if request.param == "haproxy":
        for name, value in haproxy_env().items():  # the cluster's processes inherit them
            monkeypatch.setenv(name, value)
    with two_replicas(models, num_cpus=2, include_dashboard=False) as url:
        yield request.param, url


def haproxy_running() -> bool:
    return any((p / "comm").read_text().strip() == "haproxy" for p in Path("/proc").iterdir() if (p / "comm").exists())


def in_process(models, forecast_body):
    settings = Settings(
        checkpoint_dir=models["ATTNSERVE_CHECKPOINT_DIR"],
        models=models["ATTNSERVE_MODELS"].split(","),
        data_dir=models["ATTNSERVE_DATA_DIR"],
    )
    with TestClient(create_app(settings)) as c:
        return c.post("/translate", json=TEXT).json(), c.post("/forecast", json=forecast_body).json()


def test_two_replicas_answer_as_the_app_does_and_a_killed_one_loses_no_request(cluster, models):
    """A replica SIGKILLed under load: no request hangs. HAProxy (deploy/ray/haproxy.env: retry-on
    empty-response) sends the request in flight on the dead replica to the other, so no request
    fails, but the reload that follows (HAProxy restarts on every change of replicas) may close the
    client's idle keep-alive connection as it sends on it: a request never read, which the client
    sends again. Ray's Python proxy answers the request in flight on the dead replica 500 (it cannot
    send a request again) and routes the next ones to the living replica."""
    ingress, url = cluster
    assert haproxy_running() == (ingress == "haproxy")
    forecast_body = {"prices": [100.0 + (i % 7) for i in range(40)], "horizon": 3}
    with httpx.Client(base_url=url, timeout=30) as client:
        pids: set[int] = set()
        deadline = time.time() + 20  # HAProxy learns of a new replica a moment after serve.run returns
        while len(pids) < 2 and time.time() < deadline:  # a new connection each time: HAProxy keeps
            pids.add(httpx.get(url + "/healthz").json()["pid"])  # a connection on one replica
        assert len(pids) == 2, pids  # both replicas answer
        translation, forecast = in_process(models, forecast_body)
        for _ in range(4):  # whichever replica answers, the answers are the app's
            got = client.post("/translate", json=TEXT).json()
            assert got["translation"] == translation["translation"] == "EF CD AB"
            assert np.allclose(got["attention"], translation["attention"], atol=1e-6)
            assert client.post("/forecast", json=forecast_body).json()["forecast"] == pytest.approx(
                forecast["forecast"]
            )
        assert "attnserve" in client.get("/").text  # the page too

        answered, retried, dropped, failed = [], [], [], []
        stop = threading.Event()

        def send(c: httpx.Client) -> None:  # one request, sent again after a 503 or a dropped connection
            for _attempt in range(10):
                try:
                    response = c.post("/translate", json=TEXT)
                except httpx.TransportError as exc:
                    dropped.append(repr(exc))
                else:
                    if response.status_code != 503:
                        (answered if response.status_code == 200 else failed).append(response.status_code)
                        return
                    retried.append(response.text[:200])
                time.sleep(0.2)
            failed.append("no answer in 10 tries")

        def load() -> None:  # one client, back to back
            with httpx.Client(base_url=url, timeout=30) as c:
                while not stop.is_set():
                    send(c)

        worker = threading.Thread(target=load)
        worker.start()
        time.sleep(1.0)
        os.kill(pids.pop(), signal.SIGKILL)  # one replica dies under load
        time.sleep(4.0)
        stop.set()
        worker.join(60)
        assert not worker.is_alive(), "a request hung"
        assert len(answered) > 10, (failed, retried[:3], dropped)
        if ingress == "haproxy":  # it sent the dead replica's request to the other replica ...
            assert failed == [], (failed, retried[:3])
            assert len(dropped) <= 1, dropped  # ... but its reload may close the client's idle connection
        else:  # Ray's proxy cannot send a request again: the one in flight on the dead replica, if any, is a 500
            assert failed in ([], [500]) and dropped == [], (failed, retried[:3], dropped)
        assert client.post("/translate", json=TEXT).json()["translation"] == "EF CD AB"  # still serving


def test_a_simulated_two_node_cluster_serves_one_application(models, monkeypatch):
    """Two Ray nodes on this machine (ray.cluster_utils: a head and a second node, one CPU each), one
    application of two replicas: a replica reserves one CPU, so they run one on each node; both answer
    through the head's proxy (which otherwise prefers its own node's replica)."""
    from ray.cluster_utils import Cluster

    monkeypatch.setenv("RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING", "0")

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    try:
        with two_replicas(models, address=cluster.address) as url:
            assert len([n for n in ray.nodes() if n["Alive"]]) == 2
            assert ray.available_resources().get("CPU", 0) == 0  # each node's CPU taken by its replica
            with httpx.Client(base_url=url, timeout=30) as client:
                pids = {client.get("/healthz").json()["pid"] for _ in range(40)}
                assert len(pids) == 2
                assert client.post("/translate", json=TEXT).json()["translation"] == "EF CD AB"
    finally:
        cluster.shutdown()


def test_replicas_share_jobs_through_postgresql_and_a_dead_replicas_job_is_resumed(models):
    """With ATTNSERVE_DATABASE_URL on a real PostgreSQL server, a job sent through the proxy is
    answered by any replica, and when the replica running it is SIGKILLed the other (or its
    restarted successor) claims it once the lease (2 s here) runs out and finishes it."""
    from postgres_server import postgres_url

    from app.core.job_store import JobStore

    with postgres_url() as url:
        env = {**models, "ATTNSERVE_DATABASE_URL": url, "ATTNSERVE_JOB_LEASE_S": "2", "ATTNSERVE_JOB_POLL_S": "0.2"}
        with two_replicas(env, num_cpus=2, include_dashboard=False) as base:
            text = "\n\n".join(f"{w} cd ef" for w in ["ab", "gh", "ij", "kl"] * 600)  # 2,400 blocks
            with httpx.Client(base_url=base, timeout=30) as client:
                sent = client.post(
                    "/translate/file",
                    files={"file": ("long.txt", text.encode())},
                    data={"source_lang": "en", "target_lang": "fr", "job": "true"},
                )
                assert sent.status_code == 202, sent.text
                location, job_id = sent.headers["location"], sent.json()["id"]
                store = JobStore(url)
                deadline = time.time() + 60
                while time.time() < deadline:  # until some blocks are stored: a worker holds it
                    with store._connect() as db:
                        worker, done = store._run(
                            db, "SELECT worker, done FROM jobs WHERE id = %s", (job_id,)
                        ).fetchone()
                    if worker and done:
                        break
                    time.sleep(0.1)
                os.kill(int(worker.split("-")[-2]), signal.SIGKILL)  # the replica running the job dies
                statuses = set()
                while time.time() < deadline + 60:
                    response = client.get(location)
                    statuses.add(response.status_code)
                    if response.status_code == 200 and response.json()["status"] == "done":
                        break
                    time.sleep(0.2)
                job = response.json()
                assert job["status"] == "done" and job["blocks_done"] == 2400, job
                assert statuses <= {200, 503}, statuses  # any replica answers; none lost the job
                out = client.get(job["result_url"]).content.decode().split("\n\n")
                assert len(out) == 2400 and out[:4] == ["EF CD AB", "EF CD GH", "EF CD IJ", "EF CD KL"]
