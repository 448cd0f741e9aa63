"""Directions, defaults and source-language detection over HTTP, on the tiny multilingual model
(en->fr, fr->en, en->de on made-up languages) and the tiny en->fr one.

The tiny models translate their made-up languages; detection is exercised with real short
sentences, which the tiny models turn into nonsense: what is checked there is the route (the
answer's languages, its model, the language token the encoder read), not the translation.
"""

from __future__ import annotations

import pytest
from conftest import reverse_pairs, served_translator
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from models.translation.translator import Translator
from training.translation.directions import language_token

ENGLISH = "Where is the train station?"
FRENCH = "Je ne sais pas ce que je dois faire."
GERMAN = "Ich weiß nicht, was ich tun soll."
PORTUGUESE = "Eu não sei o que fazer com o meu carro novo amanhã."


@pytest.fixture(scope="module")
def both_translators(tiny_translator_dir, tiny_multilingual_dir, tmp_path_factory):
    """A checkpoint folder holding the single en->fr model and the multilingual one (symlinks)."""
    root = tmp_path_factory.mktemp("two-translators")
    for source in (tiny_translator_dir, tiny_multilingual_dir):
        (root / source.name).symlink_to(source)
    return root, tiny_translator_dir.name, tiny_multilingual_dir.name


def client_for(root, models: list[str], **settings) -> TestClient:
    return TestClient(create_app(Settings(checkpoint_dir=root, models=models, **settings)))


@pytest.fixture(scope="module")
def multi(tiny_multilingual_dir):
    with client_for(tiny_multilingual_dir.parent, [tiny_multilingual_dir.name], batch_max_wait_ms=200) as c:
        yield c


@pytest.fixture(scope="module")
def model(tiny_multilingual_dir) -> Translator:
    return served_translator(tiny_multilingual_dir)


def post(client: TestClient, **body) -> dict:
    response = client.post("/translate", json={"beam_size": 1, **body})
    assert response.status_code == 200, response.text
    return response.json()


def error(client: TestClient, path: str = "/translate", **body) -> str:
    response = client.post(path, json={"beam_size": 1, **body})
    assert response.status_code == 422, response.text
    return response.json()["message"]


@pytest.mark.parametrize("direction", [("en", "fr"), ("fr", "en"), ("en", "de")])
def test_each_direction_is_translated_with_its_language_token(multi, model, direction):
    source = "ab cd ef gh" if direction[0] == "en" else "GH EF CD AB"
    body = post(multi, text=source, source_lang=direction[0], target_lang=direction[1])
    expected = model.towards(*direction).translate([source], 1)[0]
    assert (body["source_lang"], body["target_lang"]) == direction
    assert body["source_tokens"][0] == language_token(direction[1])
    assert body["translation"] == expected.translation and body["detected"] is None and body["warnings"] == []


def test_the_language_token_changes_the_output(multi):
    to_fr = post(multi, text="ab cd ef gh", source_lang="en", target_lang="fr")["translation"]
    to_de = post(multi, text="ab cd ef gh", source_lang="en", target_lang="de")["translation"]
    assert to_fr != to_de  # one network, two outputs: only the token differs


@pytest.mark.parametrize(
    ("fields", "direction"), [({"source_lang": "fr"}, ("fr", "en")), ({"source_lang": "en"}, ("en", "fr"))]
)
def test_a_named_source_goes_into_the_default_target(multi, fields, direction):
    body = post(multi, text="ab cd ef", **fields)
    assert (body["source_lang"], body["target_lang"]) == direction and body["detected"] is None


@pytest.mark.parametrize(("text", "direction"), [(FRENCH, ("fr", "en")), (ENGLISH, ("en", "fr"))])
def test_a_text_sent_without_languages_is_detected(multi, text, direction):
    body = post(multi, text=text)
    assert (body["source_lang"], body["target_lang"]) == direction
    assert body["detected"]["language"] == direction[0] and body["warnings"] == []


def test_a_text_that_tells_no_language_apart_goes_the_default_way(multi):
    body = post(multi, text="OK.")  # every served language as likely: the default source language
    assert (body["source_lang"], body["target_lang"]) == ("en", "fr")
    assert "en: as likely as any, the default source language" in body["warnings"][0]


def test_the_default_pair_is_a_setting(tiny_multilingual_dir):
    root, name = tiny_multilingual_dir.parent, tiny_multilingual_dir.name
    with client_for(root, [name], default_target_lang="de") as c:
        assert post(c, text=ENGLISH)["target_lang"] == "de"
        assert post(c, text="OK.")["target_lang"] == "de"
        assert post(c, text="ab cd", source_lang="en")["target_lang"] == "de"
        assert c.get("/languages").json()["default"]["target"] == "de"
    with client_for(root, [name], default_source_lang="de", default_target_lang="fr") as c:
        assert c.get("/languages").json()["default"] is None  # de->fr: not served, not even through en


@pytest.mark.parametrize(
    ("fields", "asked"),
    [
        ({"source_lang": "de"}, "de->* is not served"),  # into en by default: de->en is not served
        ({"source_lang": "de", "target_lang": "fr"}, "de->fr is not served"),  # no de->en leg either
        ({"target_lang": "es"}, "*->es is not served"),  # detection needs a served target first
        ({"source_lang": "auto", "target_lang": "en"}, None),
    ],
)
def test_unknown_pairs_are_422_listing_the_served_pairs(multi, fields, asked):
    if asked is None:  # the same fields with a served pair answer
        assert post(multi, text=FRENCH, **fields)["source_lang"] == "fr"
        return
    message = error(multi, text="ab cd", **fields)
    assert message.startswith("body.source_lang: language pair") and asked in message
    assert "pairs served: en->de, en->fr, fr->de, fr->en" in message  # fr->de: through en


@pytest.mark.parametrize(
    ("text", "target", "direction"),
    [(ENGLISH, "fr", ("en", "fr")), (ENGLISH, "de", ("en", "de")), (FRENCH, "en", ("fr", "en"))],
)
def test_the_source_language_is_detected(multi, text, target, direction):
    for fields in ({"target_lang": target}, {"source_lang": "auto", "target_lang": target}):
        body = post(multi, text=text, **fields)
        assert (body["source_lang"], body["target_lang"]) == direction
        assert body["detected"]["language"] == direction[0] and body["detected"]["confidence"] >= 0.9
        assert body["source_tokens"][0] == language_token(target) and body["warnings"] == []


def test_auto_without_a_target_goes_by_the_detected_language(multi):
    assert post(multi, text=FRENCH, source_lang="auto")["target_lang"] == "en"
    assert post(multi, text=ENGLISH, source_lang="auto")["target_lang"] == "fr"


def test_detected_language_not_served_into_the_target_is_422(multi):
    message = error(multi, text=GERMAN, target_lang="en")
    assert message.startswith("body.text: detected de with confidence ")
    assert "not served as a source into en; sources served into en: fr" in message


def test_text_in_a_language_not_served_is_422(multi):
    message = error(multi, text=PORTUGUESE, target_lang="en")
    assert message.startswith("body.text: detected Portuguese (pt) with confidence 1.00 (among the")
    assert "which is not served; languages served: de, en, fr" in message
    # named, it is translated as asked: the client knows better than the identifier
    assert post(multi, text=PORTUGUESE, source_lang="fr", target_lang="en")["source_lang"] == "fr"


def test_text_already_in_the_target_language_is_422_saying_how_to_override(multi):
    message = error(multi, text=FRENCH, target_lang="fr")
    assert message.startswith("body.text: already looks like fr, the target language (detected fr with confidence")
    assert "name that in source_lang (sources served into fr: en)" in message
    # naming the source is the override: the text is translated as asked
    assert post(multi, text=FRENCH, source_lang="en", target_lang="fr")["source_lang"] == "en"


def test_low_confidence_translates_with_a_warning(multi):
    body = post(multi, text="OK.", target_lang="en")  # nothing here tells the languages apart
    assert body["detected"]["confidence"] < 0.9
    assert (body["source_lang"], body["target_lang"]) == ("fr", "en")  # the one source served into en
    [warning] = body["warnings"]
    assert "source language uncertain" in warning and "below 0.9 (ATTNSERVE_DETECT_MIN_CONFIDENCE)" in warning
    assert "fr->en" in warning


def test_the_confidence_threshold_is_a_setting(tiny_multilingual_dir):
    root, name = tiny_multilingual_dir.parent, tiny_multilingual_dir.name
    with client_for(root, [name], detect_min_confidence=1.0) as c:
        body = post(c, text=ENGLISH, target_lang="fr")
        assert body["source_lang"] == "en" and len(body["warnings"]) == 1
        # under the threshold, French text into French is translated from the likeliest source instead
        body = post(c, text=FRENCH, target_lang="fr")
        assert body["detected"]["language"] == "fr" and body["source_lang"] == "en"
        assert "en: the most likely served into fr" in body["warnings"][0]


def metric_sum(client: TestClient, stat: str, model: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in client.get("/metrics").text.splitlines()
        if line.startswith(f"attnserve_batch_size_{stat}") and f'model="{model}"' in line
    )


def test_batch_routes_each_text_and_keeps_the_order(multi, tiny_multilingual_dir):
    texts = [ENGLISH, FRENCH, "Tom is reading a book in the garden.", "Nous partirons demain matin."]
    singles = [post(multi, text=text, source_lang="auto") for text in texts]
    name = tiny_multilingual_dir.name
    calls, items = metric_sum(multi, "count", name), metric_sum(multi, "sum", name)
    response = multi.post("/translate/batch", json={"texts": texts, "source_lang": "auto", "beam_size": 1})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["source_lang"] for r in results] == ["en", "fr", "en", "fr"]
    assert [r["target_lang"] for r in results] == ["fr", "en", "fr", "en"]
    for single, result in zip(singles, results):
        assert result["translation"] == single["translation"] and result["detected"] == single["detected"]
        assert result["source_tokens"] == single["source_tokens"]
    # one model, two directions: the scheduler makes one call per direction
    assert metric_sum(multi, "count", name) - calls == 2 and metric_sum(multi, "sum", name) - items == 4


def test_batch_names_the_text_whose_language_is_refused(multi):
    message = error(multi, "/translate/batch", texts=[ENGLISH, FRENCH, GERMAN], target_lang="en")
    assert message.startswith("body.texts.0: already looks like en")
    message = error(multi, "/translate/batch", texts=[FRENCH, GERMAN], target_lang="en")
    assert message.startswith("body.texts.1: detected de")


def test_the_first_listed_checkpoint_serves_a_shared_direction(both_translators):
    root, single, multilingual = both_translators
    source = reverse_pairs(1, seed=3)[0][0]
    for models, en_fr in (([single, multilingual], single), ([multilingual, single], multilingual)):
        with client_for(root, models) as c:
            assert post(c, text=source, source_lang="en", target_lang="fr")["model"]["id"] == en_fr
            assert post(c, text="GH EF", source_lang="fr")["model"]["id"] == multilingual  # only it has fr->en
            served = {(d["source"], d["target"]): d["model"] for d in c.get("/languages").json()["directions"]}
            assert served == {
                ("en", "fr"): en_fr,
                ("fr", "en"): multilingual,
                ("en", "de"): multilingual,
                ("fr", "de"): multilingual,  # through en: the second leg's model
            }


def test_models_list_every_direction(both_translators):
    root, single, multilingual = both_translators
    with client_for(root, [single, multilingual]) as c:
        info = {m["id"]: m for m in c.get("/models").json()}
        assert (
            info[multilingual]["directions"] == ["en-fr", "fr-en", "en-de"] and info[multilingual]["languages"] is None
        )
        assert info[single]["directions"] == ["en-fr"]
        assert info[single]["languages"] == {"source": "en", "target": "fr"}  # as before, for existing clients
        languages = c.get("/languages").json()
        assert languages["languages"] == ["de", "en", "fr"] and languages["detected"] == ["de", "en", "fr"]
        assert languages["default"] == {"source": "en", "target": "fr", "model": single, "via": None, "models": None}


@pytest.mark.parametrize(
    ("text", "script"),
    [("我想买一张去北京的火车票。", "Han"), ("مرحبا كيف حالك", "Arabic"), ("Привет, как дела?", "Cyrillic")],
)
def test_text_in_a_script_no_served_language_writes_is_422_naming_it(multi, text, script):
    for fields in ({}, {"source_lang": "auto"}, {"source_lang": "en", "target_lang": "fr"}):
        message = error(multi, text=text, **fields)
        assert message.startswith(f"body.text: is written mostly in the {script} script"), message
        assert "languages served (de, en, fr)" in message


def test_a_few_letters_of_another_script_do_not_refuse_a_text(multi):
    body = post(multi, text="Tom said привет to his neighbour yesterday.", source_lang="en")
    assert body["source_lang"] == "en"


def test_a_latin_script_language_not_served_is_translated_with_a_warning(multi):
    body = post(multi, text="Vorrei un caffè e una brioche, per favore.", target_lang="en")
    warning = next(w for w in body["warnings"] if "looks like" in w)
    assert "Italian (it) with confidence 0.8" in warning and "which is not served" in warning
    # named, no warning: the client knows better than the identifier
    named = post(multi, text="Vorrei un caffè e una brioche, per favore.", source_lang="fr", target_lang="en")
    assert named["warnings"] == []
