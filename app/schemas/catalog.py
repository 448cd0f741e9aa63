"""Response bodies of GET /models (one entry per loaded model) and GET /languages."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ModelInfo(BaseModel):
    id: str
    task: str
    languages: dict[str, str] | None = Field(
        None,
        description="a one-direction translator's pair, {source, target}; null for a multilingual one "
        "(see directions) and for a forecaster",
    )
    directions: list[str] | None = Field(
        None, description="a translator's directions as 'source-target' codes ('fr-en'); null for a forecaster"
    )
    architecture: dict
    cell: str | None = Field(None, description="the recurrent cell (gru, lstm, rnn); null for a kind without one")
    attention: str | None = Field(
        None, description="the attention scoring (bahdanau, luong_dot, luong_general, none); null for a kind without"
    )
    parameters: int
    weights: str = Field(
        "float32",
        description="how the served weights are stored: float32 as trained, or int8 (ATTNSERVE_WEIGHTS: "
        "dynamic int8 quantization of a translator's linear and recurrent layers for CPU decoding)",
    )
    training_data: dict
    metrics: dict
    sha256: str


class Direction(BaseModel):
    source: str
    target: str
    model: str = Field(
        ...,
        description="the id of the model that serves it (the first in ATTNSERVE_MODELS); through a pivot "
        "language, the second leg's",
    )
    via: str | None = Field(
        None, description="the pivot language it is translated through (ATTNSERVE_PIVOT_LANG); null: one model"
    )
    models: list[str] | None = Field(None, description="through a pivot language: both legs' models, in order")


class Languages(BaseModel):
    languages: list[str] = Field(..., description="every language some direction reads or writes")
    directions: list[Direction] = Field(..., description="every direction served, sorted")
    default: Direction | None = Field(
        ...,
        description="the default pair (ATTNSERVE_DEFAULT_SOURCE_LANG -> ATTNSERVE_DEFAULT_TARGET_LANG): a text "
        "sent without languages is detected, and goes this way when nothing in it tells the languages apart; "
        "null when it is not served (docs/api.md)",
    )
    detected: list[str] = Field(
        ..., description="the languages source_lang 'auto' can detect (the served ones the identifier knows)"
    )
    detect_min_confidence: float = Field(
        ..., description="a detection below this confidence is used with a warning (ATTNSERVE_DETECT_MIN_CONFIDENCE)"
    )
