"""Request and response bodies of /translate and /translate/batch."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt

from app.schemas.common import MAX_BATCH_TEXTS, FewErrors, ModelRef, Strict, Text

MAX_BEAM = 16
MAX_LENGTH = 256


class DecodingOptions(Strict):
    beam_size: StrictInt = Field(5, ge=1, le=MAX_BEAM, description="1 = greedy search")
    max_length: StrictInt | None = Field(
        None,
        ge=1,
        le=MAX_LENGTH,
        description="most target pieces to produce; default 2 x source pieces + 10 (at most 256)",
    )
    source_lang: Text | None = Field(
        None,
        description="language code of the text (en, fr, de, es: see GET /languages), or 'auto' to detect it; "
        "omitted: detected when target_lang is given, else the default pair (en->fr)",
    )
    target_lang: Text | None = Field(
        None,
        description="language code to translate into; omitted: 'en' for a non-English source, 'fr' (the "
        "default pair's target) for English or when no language is given",
    )
    alternatives: StrictInt = Field(
        0,
        ge=0,
        le=MAX_BEAM - 1,
        description="how many next-best translations of the beam to return beside the best, each with its "
        "own attention: 0..beam_size - 1 (a 422 above). Fewer come back when the beam finished fewer "
        "distinct texts",
    )
    glossary: dict[Text, Text] | None = Field(
        None,
        description="source term -> target term, at most ATTNSERVE_MAX_GLOSSARY_TERMS (100): each term found "
        "in the text (case-insensitive, on word boundaries, longest first) is translated as its target term, "
        "carried through the model as a placeholder; a blank term or target term is a 422",
        examples=[{"invoice": "facture"}],
    )
    attention_level: Literal["pieces", "words"] = Field(
        "pieces",
        description="'words': each answer, segment and alternative also carries `words`, its attention between "
        "words (a target word's row the mean of its pieces' rows, a source word's column the sum of its pieces' "
        "columns: rows still sum to 1); 'pieces': the subword matrices only",
    )
    format: Literal["text", "html", "markdown"] = Field(
        "text",
        description="what the text is: 'text' (its line layout kept), or an 'html' or 'markdown' snippet whose "
        "markup is kept and whose inline tags (bold, links, code) are put on the words their attention points to; "
        "with a markup format, segments' offsets are in the snippet's text content (its blocks' texts joined by "
        "newlines). Ignored by /translate/file, which reads the file's own format",
    )
    number_format: Literal["target", "source"] = Field(
        "target",
        description="numbers with separators written the target language's way ('target': 1,299.99 -> "
        "1 299,99 in French) or as typed ('source'); every digit is kept either way",
    )


class TranslateRequest(DecodingOptions):
    text: Text = Field(
        ...,
        description="text to translate (not blank; length limit configurable)",
        json_schema_extra={"pattern": r"\S"},
    )


class TranslateBatchRequest(DecodingOptions):
    texts: Annotated[list[Text], FewErrors] = Field(
        ...,
        min_length=1,
        max_length=MAX_BATCH_TEXTS,
        description="texts, each as in /translate; at most ATTNSERVE_MAX_BATCH_TEXTS (64; a hard ceiling of "
        f"{MAX_BATCH_TEXTS})",
    )


class Detected(BaseModel):
    """What the language identifier said of the text: its most likely language among those served.
    A confident detection (at least ATTNSERVE_DETECT_MIN_CONFIDENCE) that is the target language,
    or that is not served as a source into the target, is a 422 instead of an answer; a detection
    below it is used with a warning, or the most likely source served into the target is."""

    language: str = Field(..., description="the most likely language of the text among the served languages")
    confidence: float = Field(..., description="its probability among the served languages, 0..1")


class Words(BaseModel):
    """Attention between words: the pieces grouped into words (a word starts at a piece that begins
    with ▁; special pieces and runs of punctuation are words of their own), a target word's row the
    mean of its pieces' rows, a source word's column the sum of its pieces' columns."""

    source: list[str] = Field(..., description="the source words, special pieces (<2fr>, </s>) as they are")
    target: list[str] = Field(..., description="the target words")
    attention: list[list[float]] = Field(..., description="len(target) rows x len(source) columns; each row sums to 1")
    source_index: list[int] = Field(..., description="for each source piece, the index of its word")
    target_index: list[int] = Field(..., description="for each target piece, the index of its word")


class Alternative(BaseModel):
    """One of the beam's next-best finished hypotheses: its text differs from the best's and from
    every other alternative's. Reads the same source pieces as the answer it is part of."""

    translation: str
    target_tokens: list[str] = Field(..., description="pieces the decoder produced, </s> included when produced")
    score: float = Field(..., description="log-probability under the model")
    attention: list[list[float]] = Field(
        ..., description="its own matrix: len(target_tokens) rows x len(source_tokens) columns; each row sums to 1"
    )
    p_gen: list[float] | None = Field(None, description="per target token, as the answer's p_gen")
    words: Words | None = Field(None, description="with attention_level 'words': its attention between words")


class PlaceholderOut(BaseModel):
    """A span of the sentence that did not go through the model as text: a URL, an e-mail address,
    a handle, a hashtag, a phone number, a time, a version, a price, a code, a number, or a glossary
    term. The model read and wrote its piece; the translation has ``output`` in its place."""

    piece: str = Field(..., description="the placeholder's piece in source_tokens and target_tokens, e.g. <0x01>")
    kind: str = Field(
        ..., description="url, e-mail, handle, hashtag, phone, time, version, price, code, number or glossary"
    )
    text: str = Field(..., description="the span as sent")
    start: int = Field(..., description="character offset of the span in the text sent")
    end: int = Field(..., description="character offset just past it")
    output: str = Field(
        ...,
        description="what the translation has in its place: the span, a number in the target's format, "
        "or the glossary's target term",
    )
    dropped: bool = Field(
        False,
        description="the model did not write the piece: output was put after the word whose attention was on "
        "it most (at the end of the sentence when that could not be told), and a warning says so",
    )


class PivotLeg(BaseModel):
    """One leg of a sentence translated through the pivot language: what its model read and wrote."""

    source_tokens: list[str] = Field(..., description="pieces this leg's encoder read, </s> included")
    target_tokens: list[str] = Field(..., description="pieces this leg's decoder produced")
    attention: list[list[float]] = Field(
        ..., description="len(target_tokens) rows x len(source_tokens) columns; each row sums to 1"
    )
    words: Words | None = Field(None, description="with attention_level 'words': its attention between words")


class SegmentPivot(BaseModel):
    """A sentence translated in two legs through the pivot language."""

    translation: str = Field(..., description="the sentence in the pivot language, as the first leg wrote it")
    legs: list[PivotLeg] = Field(..., description="the two legs: source -> pivot, then pivot -> target")


class Pivot(BaseModel):
    """How a pair no model serves was translated: through the pivot language (ATTNSERVE_PIVOT_LANG)."""

    language: str = Field(..., description="the language in between, e.g. en")
    translation: str = Field(..., description="the whole text in the pivot language, laid out as sent")
    models: list[ModelRef] = Field(..., description="the two legs' models, in order")


class Segment(BaseModel):
    """One sentence of the text, translated by one model row: where it is in the text sent, what the
    encoder read and the decoder wrote, and the attention that produced it."""

    start: int = Field(..., description="character offset of the sentence in the text sent")
    end: int = Field(..., description="character offset just past it: text[start:end] is the sentence")
    translation: str
    source_tokens: list[str] = Field(..., description="pieces the encoder read, </s> included")
    target_tokens: list[str] = Field(..., description="pieces the decoder produced, </s> included when produced")
    attention: list[list[float]] = Field(
        ..., description="len(target_tokens) rows x len(source_tokens) columns; each row sums to 1"
    )
    score: float = Field(..., description="log-probability of the sentence's translation under the model")
    p_gen: list[float] | None = Field(None, description="per target token, as the answer's p_gen")
    words: Words | None = Field(None, description="with attention_level 'words': its attention between words")
    alternatives: list[Alternative] = Field([], description="the sentence's next-best translations, as asked for")
    placeholders: list[PlaceholderOut] = Field(
        [], description="the sentence's spans carried as placeholders, in order (their pieces <0x01>, <0x02>, ...)"
    )
    pivot: SegmentPivot | None = Field(
        None,
        description="through a pivot language: both legs' pieces and attention (attention above is their "
        "product, from the target pieces to the source pieces); null for a pair one model serves",
    )


class TranslateResponse(Strict):
    translation: str = Field(
        ...,
        description="the whole text translated, laid out as sent: line breaks, blank lines, indentation, list "
        "markers and spacing kept, lines without words (a number, a URL alone) as they were",
    )
    source_tokens: list[str] = Field(
        ...,
        description="pieces the encoder read, </s> included; [] for a text of several sentences (each "
        "sentence's are in its segment)",
    )
    target_tokens: list[str] = Field(
        ...,
        description="pieces the decoder produced, </s> included when produced; [] for several sentences",
    )
    attention: list[list[float]] = Field(
        ...,
        description="len(target_tokens) rows x len(source_tokens) columns; each row sums to 1; [] for a text "
        "of several sentences (each sentence's matrix is in its segment: a sentence reads only itself)",
    )
    score: float = Field(..., description="log-probability of the translation under the model (summed over sentences)")
    p_gen: list[float] | None = Field(
        None,
        description="per target token, the probability the model generated it from its vocabulary "
        "rather than copying the source piece its attention row points at; null for a "
        "model without the copy gate and for a text of several sentences (see segments)",
    )
    words: Words | None = Field(
        None,
        description="with attention_level 'words': the attention between words; null for a text of several "
        "sentences (each segment has its own) and with attention_level 'pieces'",
    )
    model: ModelRef
    source_lang: str = Field(..., description="the language translated from: as named, defaulted or detected")
    target_lang: str = Field(..., description="the language translated into")
    detected: Detected | None = Field(
        None, description="the source language detection, when source_lang was 'auto' or omitted; else null"
    )
    warnings: list[str] = Field(
        [],
        description="what the client should know: a source language detected below the confidence threshold "
        "(ATTNSERVE_DETECT_MIN_CONFIDENCE, 0.9) was used all the same, and which",
    )
    alternatives: list[Alternative] = Field(
        [],
        description="the next-best translations asked for with alternatives, best first: ranked as beam "
        "search ranks, by score / ((5 + n) / 6) ** length_penalty with n = len(target_tokens); [] when none "
        "was asked for, and for a text of several sentences (each segment has its own)",
    )
    pivot: Pivot | None = Field(
        None,
        description="for a pair no model serves, translated through the pivot language: that language, the "
        "text in it and both models (model is the second leg's); each segment has both legs; null otherwise",
    )
    segments: list[Segment] = Field(
        [],
        description="the sentences translated, in order, each with its offsets in the text and its own "
        "tokens, attention, score, p_gen and alternatives; [] when no line of the text holds words",
    )


class TranslateBatchResponse(Strict):
    results: list[TranslateResponse]
