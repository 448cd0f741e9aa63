"""What a checkpoint folder's ``config.json`` must hold before any model code reads it, and what
a loaded model must agree with: a checkpoint that breaks a rule raises ``CheckpointError`` naming
the field and the rule, so the registry marks that one model not ready and serves the others.

The schema checks the keys serving reads (types, ranges); keys it does not name are left to the
model code (which refuses unknown architecture keys) or are the card's metadata. A size must be a
JSON integer (not ``"64"`` or ``64.0``). A key left out takes the network's default; ``null`` is
refused except where a part's ``NULLABLE`` allows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from models.checkpoint import CONFIG, CheckpointError
from models.forecasting.forecaster import StockForecaster
from models.translation.translator import Translator

Size = Annotated[int, Field(ge=1)]
TokenId = Annotated[int, Field(ge=0)]
Dropout = Annotated[float, Field(ge=0, lt=1)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1)]


class _Part(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    NULLABLE: ClassVar[frozenset[str]] = frozenset()  # the fields that may be given as null

    @model_validator(mode="before")
    @classmethod
    def _no_null(cls, data: Any) -> Any:
        """A field left out takes the network's default; one given as null is refused."""
        if isinstance(data, dict):
            keys = {field.alias or name for name, field in cls.model_fields.items()} - cls.NULLABLE
            nulls = [k for k, v in data.items() if v is None and k in keys]
            if nulls:
                raise ValueError(f"{', '.join(nulls)} must not be null (leave a field out for its default)")
        return data


class TranslatorArchitecture(_Part):
    NULLABLE = frozenset({"unread_ids"})
    vocab_size: Size
    pad_id: TokenId | None = None
    unk_id: TokenId | None = None
    bos_id: TokenId | None = None
    eos_id: TokenId | None = None
    cell: Name | None = None
    attention: Name | None = None
    embed_size: Size | None = None
    hidden_size: Size | None = None
    attention_size: Size | None = None
    encoder_layers: Size | None = None
    decoder_layers: Size | None = None
    bidirectional: bool | None = None
    dropout: Dropout | None = None
    tie_embeddings: bool | None = None
    copy_: bool | None = Field(default=None, alias="copy")  # "copy" itself would shadow BaseModel.copy
    reverse_source: bool | None = None
    unread_ids: list[TokenId] | None = Field(default=None, min_length=2, max_length=2)  # [low, high)

    @model_validator(mode="after")
    def _ids_in_vocabulary(self) -> TranslatorArchitecture:
        for name in ("pad_id", "unk_id", "bos_id", "eos_id"):
            value = getattr(self, name)
            if value is not None and value >= self.vocab_size:
                raise ValueError(f"{name} {value} is not below vocab_size {self.vocab_size}")
        return self


class Vocabulary(_Part):
    file: Annotated[str, Field(min_length=1, pattern=r"^[^/\\]+$")]  # a file in the folder


class Decoding(_Part):
    no_repeat_ngram: Annotated[int, Field(ge=0)] = 0


class TranslatorConfig(_Part):
    NULLABLE = frozenset({"decoding"})
    task: Literal["translation"]
    id: Name | None = None
    source_lang: Name | None = None
    target_lang: Name | None = None
    # a multilingual network: "a-b" directions, each target language's control piece
    directions: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}-[a-z]{2,3}$")]] | None = Field(None, min_length=1)
    language_tokens: dict[str, Name] | None = None
    architecture: TranslatorArchitecture
    vocabulary: Vocabulary
    decoding: Decoding | None = None


class ForecasterArchitecture(_Part):
    NULLABLE = frozenset({"calibration", "median_shrink"})
    cell: Name | None = None
    lookback: Size | None = None
    horizon: Size | None = None
    hidden_size: Size | None = None
    attention_size: Size | None = None
    layers: Size | None = None
    dropout: Dropout | None = None
    quantiles: list[Annotated[float, Field(gt=0, lt=1)]] | None = Field(default=None, min_length=1)
    scale: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    calibration: list[list[Finite]] | None = None
    median_shrink: list[Finite] | None = None


class ForecasterConfig(_Part):
    task: Literal["forecast"]
    id: Name | None = None
    architecture: ForecasterArchitecture


CheckpointConfig = Annotated[TranslatorConfig | ForecasterConfig, Field(discriminator="task")]
_ADAPTER: TypeAdapter[TranslatorConfig | ForecasterConfig] = TypeAdapter(CheckpointConfig)


def _rules_broken(exc: ValidationError, shown: int = 5) -> str:
    errors = exc.errors(include_url=False)
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in errors[:shown]]
    if len(errors) > shown:
        parts.append(f"and {len(errors) - shown} more")
    return "; ".join(parts)


def read_config(directory: Path) -> TranslatorConfig | ForecasterConfig:
    """``directory/config.json`` checked against the schema of its ``task``."""
    path = directory / CONFIG
    if not path.is_file():
        raise CheckpointError(f"{directory}: no {CONFIG} (checkpoint folder missing or incomplete)")
    try:
        return _ADAPTER.validate_json(path.read_bytes())
    except ValidationError as exc:
        raise CheckpointError(f"{path} does not fit the checkpoint schema: {_rules_broken(exc)}") from exc


def check_translator(translator: Translator, directory: Path) -> None:
    """The special ids the network was built with are the tokenizer's (an end-of-sentence id that
    is not the tokenizer's would stop decoding at an ordinary piece), and the unread range lies in
    the vocabulary."""
    arch, tokenizer = translator.model.config, translator.tokenizer
    wrong = [
        f"{name}_id {getattr(arch, f'{name}_id')} (the tokenizer's is {getattr(tokenizer, f'{name}_id')})"
        for name in ("pad", "unk", "bos", "eos")
        if getattr(arch, f"{name}_id") != getattr(tokenizer, f"{name}_id")
    ]
    if wrong:
        raise CheckpointError(f"{directory}: architecture special ids do not match the tokenizer: {', '.join(wrong)}")
    if arch.unread_ids is not None and not arch.unread_ids[0] <= arch.unread_ids[1] <= arch.vocab_size:
        raise CheckpointError(
            f"{directory}: architecture.unread_ids {list(arch.unread_ids)} is not a range within the "
            f"vocabulary (0..{arch.vocab_size})"
        )


def check_forecaster(forecaster: StockForecaster, directory: Path) -> None:
    """The calibration holds one row of one factor per quantile for each horizon step, and the
    median shrinkage one value per step (else a forecast would fail at request time)."""
    cfg = forecaster.config
    if cfg.calibration is not None and (
        len(cfg.calibration) != cfg.horizon or any(len(row) != len(cfg.quantiles) for row in cfg.calibration)
    ):
        raise CheckpointError(
            f"{directory}: architecture.calibration must be {cfg.horizon} rows (horizon) of "
            f"{len(cfg.quantiles)} factors (quantiles)"
        )
    if cfg.median_shrink is not None and len(cfg.median_shrink) != cfg.horizon:
        raise CheckpointError(
            f"{directory}: architecture.median_shrink must hold {cfg.horizon} values (one per horizon step), "
            f"got {len(cfg.median_shrink)}"
        )


def check_model(model: Translator | StockForecaster, directory: Path) -> None:
    """Whatever a loaded model must agree with beyond its weights' names and shapes."""
    if isinstance(model, Translator):
        check_translator(model, directory)
    else:
        check_forecaster(model, directory)
