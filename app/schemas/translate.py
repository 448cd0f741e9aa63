"""Request and response bodies of /translate and /translate/batch."""

from __future__ import annotations

from pydantic import Field, StrictInt

from app.schemas.common import ModelRef, Strict, Text

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
    source_lang: Text | None = Field(None, description="default: the served pair's source")
    target_lang: Text | None = Field(None, description="default: the served pair's target")


class TranslateRequest(DecodingOptions):
    text: Text = Field(
        ...,
        description="text to translate (not blank; length limit configurable)",
        json_schema_extra={"pattern": r"\S"},
    )


class TranslateBatchRequest(DecodingOptions):
    texts: list[Text] = Field(..., min_length=1, description="texts, each as in /translate")


class TranslateResponse(Strict):
    translation: str
    source_tokens: list[str] = Field(..., description="pieces the encoder read, </s> included")
    target_tokens: list[str] = Field(..., description="pieces the decoder produced, </s> included when produced")
    attention: list[list[float]] = Field(
        ..., description="len(target_tokens) rows x len(source_tokens) columns; each row sums to 1"
    )
    score: float = Field(..., description="log-probability of the translation under the model")
    p_gen: list[float] | None = Field(
        None,
        description="per target token, the probability the model generated it from its vocabulary "
        "rather than copying the source piece its attention row points at; null for a "
        "model without the copy gate",
    )
    model: ModelRef


class TranslateBatchResponse(Strict):
    results: list[TranslateResponse]
