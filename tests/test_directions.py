"""Several directions in one network: the split keeps held-out sentences out of every
direction's training, and the target-language token steers what the network writes."""

from __future__ import annotations

import pytest
from conftest import write_tsv

from models.translation.translator import Translator
from training.translation.data import split_by_source
from training.translation.directions import language_token, parse_data, parse_directions, split_directions


def test_held_out_sentences_never_reach_training(tmp_path):
    # English sentences shared by both files, and a German sentence with two English translations
    en = [f"sentence {i}" for i in range(60)]
    fr = [(s, f"phrase {i}") for i, s in enumerate(en)]
    de = [(s, f"satz {i % 50}") for i, s in enumerate(en)]  # satz 0-9 translate two sentences
    files = parse_data([f"fr={write_tsv(tmp_path / 'fr.tsv', fr)}", f"de={write_tsv(tmp_path / 'de.tsv', de)}"])
    directions = parse_directions(["fr-en", "en-de", "de-en"], list(files))
    splits = split_directions(files, directions, dev_size=5, test_size=10, seed=3)
    held = {s for d in directions for part in (splits.dev[d], splits.test[d]) for pair in part for s in pair}
    assert held and not held & {s for pair in splits.train for s in pair}
    # the French file's test set is the one a single-direction run on it holds out
    single = split_by_source(fr, 5, 10, seed=3)
    assert splits.test[("fr", "en")] == [(f, e) for e, f in single.test]
    # every training pair is oriented as its direction reads, and counted there
    for (src, tgt), (a, b) in zip(splits.train, splits.train_directions):
        assert (src.startswith("sentence"), tgt.startswith("sentence")) == (a == "en", b == "en")
    assert splits.removed["de"] > 0  # German sentences held out with their other translation
    assert set(splits.train_sentences("de")) == {
        t for (s, t), d in zip(splits.train, splits.train_directions) if d == ("en", "de")
    }


@pytest.mark.parametrize(
    ("specs", "directions", "rule"),
    [
        (["fr"], ["fr-en"], "LANG=PATH"),
        (["en=x.tsv"], ["fr-en"], "pivot"),
        (["fr=x.tsv"], ["fr-de"], "one side en"),
        (["fr=x.tsv"], ["de-en"], "one side en"),
        (["fr=x.tsv"], ["fr-en", "fr-en"], "twice"),
    ],
)
def test_bad_specs_are_refused_with_the_rule(specs, directions, rule):
    with pytest.raises(ValueError, match=rule):
        parse_directions(directions, list(parse_data(specs)))


@pytest.mark.tiny_model
def test_language_token_steers_the_output(tiny_multilingual_dir):
    translator = Translator.load(tiny_multilingual_dir)
    assert sorted(translator.directions) == [("en", "de"), ("en", "fr"), ("fr", "en")]
    text = "ab cd ef gh"
    to_fr = translator.towards("en", "fr").translate([text], 1)[0]
    to_de = translator.towards("en", "de").translate([text], 1)[0]
    assert to_fr.source_tokens[0] == language_token("fr") and to_de.source_tokens[0] == language_token("de")
    assert to_fr.translation == "GH EF CD AB"
    assert to_de.translation == "AB CD EF GH"
    back = translator.towards("fr", "en").translate(["GH EF CD AB"], 1)[0]
    assert back.translation == text


def test_directions_not_served_are_refused(tiny_multilingual_dir):
    translator = Translator.load(tiny_multilingual_dir)
    with pytest.raises(ValueError, match="de->en is not served; directions: en->fr, fr->en, en->de"):
        translator.towards("de", "en")
    with pytest.raises(ValueError, match="target_lang 'es'"):
        translator.translate(["ab"], 1, target_lang="es")
    # a user cannot type the token: the text "<2de>" is read as characters, not as the control piece
    tokens = translator.towards("en", "fr").translate(["<2de> ab"], 1)[0].source_tokens
    assert tokens.count(language_token("de")) == 0 and tokens[0] == language_token("fr")
