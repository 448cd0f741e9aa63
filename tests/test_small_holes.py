"""The small holes of issue 25: each answered as a client would expect (HEAD, redirects that never
follow a client's Host, metrics labels, unknown query parameters, a second file part, a column
named twice, "1_000" in a price file, control characters in a text)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from test_forecast_csv import YAHOO, yahoo, yahoo_rows

from app.core.config import Settings
from app.main import create_app
from models.forecasting.price_file import PriceFileError, read_price_csv, read_tickers
from models.translation.tokenizer import normalize_input


@pytest.fixture(scope="module")
def client(untrained_forecaster_dir):
    with TestClient(create_app(Settings(checkpoint_dir=untrained_forecaster_dir, models=["fc"]))) as c:
        yield c


def upload(client, data: bytes, query: str = "", files=None):
    return client.post(f"/forecast/csv{query}", files=files or {"file": ("p.csv", data, "text/csv")})


def test_head_healthz_answers_200_without_a_body(client):
    answer = client.head("/healthz")
    assert answer.status_code == 200 and answer.content == b""


def test_a_trailing_slash_redirect_names_a_path_not_the_host_the_client_sent(client):
    answer = client.get("/healthz/", headers={"host": "evil.example"}, follow_redirects=False)
    assert answer.status_code in (307, 308) and answer.headers["location"] == "/healthz"


def test_the_openapi_document_and_the_docs_assets_are_counted_under_their_own_labels(client):
    client.get("/openapi.json")
    assert client.get("/static-docs/swagger-ui.css").status_code == 200
    metrics = client.get("/metrics").text
    assert 'endpoint="/openapi.json",method="GET",status="200"' in metrics
    assert 'endpoint="/static-docs",method="GET",status="200"' in metrics


def test_an_unknown_query_parameter_is_a_422_naming_it(client):
    answer = upload(client, yahoo(yahoo_rows(60)), "?horizons=10")
    assert answer.status_code == 422 and answer.json()["message"].startswith("query.horizons: is not a parameter")


def test_a_second_file_part_is_a_422(client):
    data = yahoo(yahoo_rows(60))
    files = [("file", ("a.csv", data, "text/csv")), ("file", ("b.csv", data, "text/csv"))]
    answer = upload(client, data, files=files)
    assert answer.status_code == 422 and "send one file" in answer.json()["message"]


def test_a_column_named_twice_is_refused_on_both_sides():
    header = YAHOO + ",Close"
    rows = [row + ",1.0" for row in yahoo_rows(30)]
    data = ("\n".join([header, *rows]) + "\n").encode()
    with pytest.raises(PriceFileError, match="names 'close' twice"):
        read_price_csv(data, keep=21, min_rows=20)
    with pytest.raises(PriceFileError, match="names 'close' twice"):
        read_tickers(data, "X.csv")


def test_an_underscored_number_is_not_read_as_a_figure():
    rows = yahoo_rows(30)
    cells = rows[-1].split(",")
    cells[6] = "1_000"  # the volume
    data = yahoo([*rows[:-1], ",".join(cells)])
    with pytest.raises(PriceFileError, match=r"'1_000' is not a number"):
        read_price_csv(data, keep=21, min_rows=20)
    [table] = read_tickers(data, "X.csv").values()  # training: missing on that day, said
    assert table.bars.volume is not None and table.bars.volume[-1] != table.bars.volume[-1]  # NaN
    assert any("1_000" in warning for warning in table.warnings)


def test_control_characters_are_read_as_spaces():
    assert normalize_input("Hello\x00world.\x07") == "Hello world."
    assert normalize_input("tab\tand\u0085next") == "Tab and next"
