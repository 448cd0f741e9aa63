"""Model cards rendered from a checkpoint's config.json, so every figure in a card is a
figure stored by the command that measured it.

    python -m training.card --checkpoint checkpoints/translator-en-fr \\
        --baseline work/translator-en-fr-none     # adds the no-attention baseline's figures
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from models.checkpoint import CARD, CONFIG, write_manifest
from models.forecasting.forecast_net import ForecastNetConfig
from training.cli import parser

# commands recorded before the layout by model family (2026-12) name the flat modules; a card
# shows them under today's names, which run the same code
RENAMED = {
    "translate": "translation.train",
    "evaluate_translation": "translation.evaluate",
    "average": "translation.average",
    "directions": "translation.directions",
    "novelty": "translation.novelty",
    "plot_attention": "translation.plot_attention",
    "forecast": "forecasting.train",
    "backtest": "forecasting.backtest",
    "calendars": "forecasting.calendars",
}
_RECORDED = re.compile(r"\btraining\.(" + "|".join(RENAMED) + r")\b(?![.\w])")


def current_commands(text: str) -> str:
    """``text`` with every recorded ``training.<module>`` of the flat layout under its name today."""
    return _RECORDED.sub(lambda m: f"training.{RENAMED[m.group(1)]}", text)


RESULT_SETS = (
    (
        "test_strict",
        "Strictest novel test set (leads: it predicts what users see): held-out English sentences with no "
        "training English at character 4-gram Jaccard >= 0.3 (`python -m training.translation.novelty "
        "--threshold 0.3`); read its 1-ref column",
    ),
    (
        "test_novel",
        "Novel test set: held-out English sentences with no "
        "near-duplicate among the training English (character 4-gram Jaccard < 0.5, "
        "`python -m training.translation.novelty`)",
    ),
    ("test", "Random split by English sentence (keeps near-paraphrases of training sentences; flatters the model)"),
)
_BUCKETS = ("1_4", "5_8", "9_12", "13plus")


def _fmt(value: float | None, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:.2f}{suffix}" if isinstance(value, float) else f"{value}{suffix}"


def _bucket_label(key: str) -> str:
    return key.replace("_", "-").replace("plus", "+")


def _metric_rows(metrics: dict, prefix: str = "test") -> list[str]:
    """One markdown row fragment per decoding: BLEU/chrF (multi- and 1-ref), BLEU by source
    length, numbers and names kept."""
    rows = []
    tags = [
        m.group(1)
        for key in metrics
        if (m := re.fullmatch(rf"{re.escape(prefix)}_bleu_((?:greedy|beam\d+)(?:_nr\d+)?)", key))
    ]
    for tag in tags:
        cells = [metrics.get(f"{prefix}_{m}_{tag}{r}") for r in ("", "_1ref") for m in ("bleu", "chrf")]
        cells += [metrics.get(f"{prefix}_bleu_{tag}_len_{b}") for b in _BUCKETS]
        kept = [metrics.get(f"{prefix}_{kind}_kept_pct_{tag}") for kind in ("numbers", "names")]
        rows.append(f"{tag} | " + " | ".join([_fmt(c) for c in cells] + [_fmt(k, "%") for k in kept]))
    return rows


MULTI_RESULT_SETS = (
    (
        "test_strict",
        "strictest novel test set (leads): held-out sources with no training sentence of their language at "
        "character 4-gram Jaccard >= 0.3 (`python -m training.translation.directions --threshold 0.3`); read "
        "its 1-ref column",
    ),
    (
        "test_novel",
        "novel test set: held-out sources with no near-duplicate among the training sentences of their "
        "language, from every file (character 4-gram Jaccard < 0.5, `python -m training.translation.directions`)",
    ),
    ("test", "random split by English sentence (flatters the model)"),
)


def _result_sets(config: dict) -> list[tuple[str, str]]:
    """(metric prefix, table title) per table: per direction for a multilingual checkpoint."""
    if not config.get("directions"):
        return list(RESULT_SETS)
    return [
        (f"{d}.{prefix}", f"{d.replace('-', ' -> ')}, {title}")
        for d in config["directions"]
        for prefix, title in MULTI_RESULT_SETS
    ]


def _results(config: dict) -> list[str]:
    metrics, baseline = config.get("metrics", {}), config.get("baseline")
    attention = config["architecture"]["attention"]
    lines: list[str] = []
    for prefix, title in _result_sets(config):
        rows = _metric_rows(metrics, prefix)
        if not rows:
            continue
        sizes = [metrics.get(f"{prefix}_len_{b}_sources", "?") for b in _BUCKETS]
        kept = [metrics.get(f"{prefix}_{kind}_eligible", "?") for kind in ("numbers", "names")]
        lines += [
            f"{title}: {metrics[f'{prefix}_sources']:,} sources, {metrics[f'{prefix}_pairs']:,} references.",
            "",
            "| model | decoding | BLEU | chrF | BLEU 1-ref | chrF 1-ref | "
            + " | ".join(f"BLEU {_bucket_label(b)} words (n={n})" for b, n in zip(_BUCKETS, sizes))
            + f" | numbers kept (of {kept[0]}) | names kept (of {kept[1]}) |",
            "|---|---|" + "---:|" * 10,
        ]
        lines += [f"| {config['id']} ({attention}) | {row} |" for row in rows]
        if baseline:
            lines += [f"| {baseline['id']} (none) | {row} |" for row in _metric_rows(baseline["metrics"], prefix)]
        lines.append("")
    if lines:
        lines += [
            "sacreBLEU 13a and chrF2; multi-reference scores each sentence against all its references, 1-ref "
            "each line against its own. Kept: of the digit strings (names: capitalised words after the first) "
            "of a source that its reference keeps verbatim, the share the translation keeps.",
            "Measured with `python -m training.translation.evaluate --checkpoint <dir> "
            + (
                "--direction <a-b> --test data/splits-multi/<a-b>/test_novel.tsv "
                "data/splits03-multi/<a-b>/test_strict.tsv "
                if config.get("directions")
                else "--test data/splits/test_novel.tsv data/splits03/test_strict.tsv "
            )
            + "--write-metrics` (test_strict.tsv: the test_novel.tsv that `--threshold 0.3` writes, renamed).",
        ]
        if baseline:
            lines += [f"The baseline was trained with `{baseline['command']}`."]
    return lines


def _decoding(config: dict) -> str:
    block = config.get("decoding", {}).get("no_repeat_ngram", 0)
    text = "beam search (beam 5 by default in the API), GNMT length penalty 1.0"
    if block:
        return text + f"; no {block}-gram is produced twice in one translation (`decoding.no_repeat_ngram`)"
    return text + "; no repetition blocking"


def _training_commands(train: dict) -> list[str]:
    commands = train.get("commands") or [train["command"]]
    if len(commands) == 1:
        lines = [f"- command: `{commands[0]}`"]
    else:
        lines = [f"- trained in {len(commands)} processes, each resuming the one before (`--resume`):"]
        lines += [f"  {i}. `{command}`" for i, command in enumerate(commands, 1)]
    start = train.get("init_from")
    if start:
        before = start.get("commands") or [start.get("command", "")]
        lines.append(
            f"- started (`--init-from`) from the weights of `{start['id']}` (sha256 `{start['sha256'][:12]}`), "
            f"themselves trained {start.get('steps', 0):,} steps ({start.get('minutes', 0)} min) by:"
        )
        lines += [f"  - `{command}`" for command in before]
        for how, said in (("averaged", "averaged"), ("best", "its best checkpoint")):
            if start.get(how):
                lines.append(f"  - then {said}: `{start[how]['command']}`")
    if train.get("oversample"):
        factors = ", ".join(f"{d} x{k}" for d, k in train["oversample"].items())
        lines.append(f"- oversampled directions (each pair seen K times an epoch): {factors}")
    averaged, best = train.get("averaged"), train.get("best")
    if averaged:
        steps = ", ".join(str(step) for step in averaged["steps"])
        lines.append(f"- weights: the averaged snapshots of steps {steps}, by `{averaged['command']}`")
    if best:
        lines.append(f"- weights: the run's best checkpoint (step {best['steps'][0]:,}), by `{best['command']}`")
    if (averaged or best) and "run_steps" in train:
        lines.append(
            f"- the run had trained {train['run_steps']:,} steps ({train['run_minutes']} min of training steps) "
            "when it stopped; the figures above are its best single checkpoint's"
        )
    return lines


def _architecture(config: dict) -> list[str]:
    """The translator card's architecture lines: network, copy gate, placeholders, vocabulary, decoding."""
    arch = config["architecture"]
    return [
        f"- cell `{arch['cell']}`, attention `{arch['attention']}`, layers {arch['encoder_layers']} + "
        f"{arch['decoder_layers']}, embedding {arch['embed_size']}, hidden {arch['hidden_size']}, "
        f"attention {arch['attention_size']}, dropout {arch['dropout']}",
        *(
            [
                "- copy mechanism (pointer-generator): each output piece mixes generating from the vocabulary with "
                "copying the source piece the attention points at, gated by a learned p_gen (returned per token)"
            ]
            if arch.get("copy")
            else []
        ),
        *(["- the encoder reads the source backwards (`--reverse-source`)"] if arch.get("reverse_source") else []),
        *(
            [
                "- placeholders: the pieces "
                + ", ".join(f"`{p}`" for p in config["placeholders"]["marks"])
                + " stand for spans the service keeps out of the model's reading (URLs, e-mail addresses, numbers, "
                "codes, glossary terms); the model was trained to carry them into its output (`--placeholders`)"
            ]
            if config.get("placeholders")
            else []
        ),
        f"- vocabulary: joint SentencePiece unigram, {config['vocabulary']['size']} pieces, trained on the "
        "training split only; one embedding table shared by encoder, decoder and output layer",
        f"- parameters: {config['parameters']:,}",
        f"- decoding: {_decoding(config)}",
    ]


def _cut(metrics: dict, key: str, items: str) -> str:
    """' (on 640 of the 1,500 dev sources ...)' when the time limit cut the evaluation behind
    the figure (``training.loop.Evaluation``), else ''."""
    scored, planned = metrics.get(key), metrics.get(f"{key}_planned")
    if scored is None or planned is None or scored >= planned:
        return ""
    return f" (on {scored:,} of the {planned:,} {items} it was to score: the time limit cut the evaluation)"


def render_translation_card(config: dict) -> str:
    arch, train, metrics = config["architecture"], config["training"], config.get("metrics", {})
    served = (
        ", ".join(d.replace("-", " -> ") for d in config["directions"])
        if config.get("directions")
        else f"{config['source_lang']} -> {config['target_lang']}"
    )
    lines = [
        f"# {config['id']}: {served} attention Seq2Seq",
        *(
            [
                "",
                "One network for every direction listed: the source is read after a token naming the language "
                f"to write ({', '.join(f'`{t}`' for t in config['language_tokens'].values())}; Johnson et al., 2017).",
            ]
            if config.get("directions")
            else []
        ),
        "",
        f"A {arch['cell'].upper()} encoder-decoder with `{arch['attention']}` attention, "
        f"{'bidirectional ' if arch['bidirectional'] else ''}encoder, input feeding, beam search. "
        "Every translation comes with its attention matrix (target pieces x source pieces).",
        "",
        "## Architecture",
        *_architecture(config),
        "",
        "## Training data",
        f"- {train['credit']}.",
        f"- file `{train['data']}`: {train['pairs']['unique']:,} unique pairs; {train['split']}; "
        f"{train['pairs']['train']:,} train / {train['pairs']['dev']:,} dev / {train['pairs']['test']:,} test pairs.",
        f"- {train['length_filter']} ({train['pairs']['removed_by_length_filter']:,} pairs).",
        "",
        "## Training",
        f"- device {train['device']} ({train['precision']}, {train['threads']} threads); "
        f"best checkpoint at step {train.get('steps', '?')} (epoch {train.get('epochs', '?')}), "
        f"{train.get('minutes', '?')} min of training steps, "
        f"{train.get('target_tokens_per_second', '?')} target tokens/s",
        f"- Adam lr {train['lr']} ({train['warmup']} warm-up steps, halved when dev BLEU stalls), "
        f"label smoothing {train['label_smoothing']}, gradient clip {train['clip']}, "
        f"{train['batch_tokens']} padded tokens a batch, early stopping on dev BLEU (greedy)",
        *_training_commands(train),
        *([f"- {train['note']}"] if train.get("note") else []),
        "",
        "## Results",
        f"dev BLEU (greedy, during training): {metrics.get('dev_bleu_greedy', 'n/a')}"
        + _cut(metrics, "dev_eval_sources", "dev sources"),
        "",
    ]
    lines += _results(config)
    lines += [
        "",
        "## Limits",
        "- Trained on short everyday Tatoeba sentences: long, technical or informal text "
        "degrades quickly; no document context.",
        "- `attention=none` checkpoints report all weight on the final source token: the fixed "
        "vector they use is the encoder's final state.",
        "",
    ]
    return current_commands("\n".join(lines))


def _forecast_inputs(arch: dict) -> str:
    """What a forecaster reads, from its ``features`` (absent: closes only, the first format)."""
    features = arch.get("features", ["return", "shape"])
    if features == ["return", "shape"]:
        return "closes (as log returns)"
    return (
        f"bars: closes, and open/high/low/volume where given (features {', '.join(features)}; "
        "without them it reads closes alone, with its own calibration)"
    )


def _variance_lines(arch: dict) -> list[str]:
    """How the interval's width is made, for a variance-attention forecaster (none otherwise)."""
    mode = arch.get("variance")
    if mode is None:
        return []
    weights = {
        "attention": "its attention weights",
        "uniform": "uniform weights (1/L: the control without attention)",
        "exponential": "exponentially decaying weights with one learned rate (the GARCH-like control)",
    }[mode]
    long_run = " plus a learned long-run level (GARCH's omega) with a learned share," if arch.get("long_run") else ""
    if arch.get("long_run") and arch.get("history_days"):
        long_run = (
            " plus a long-run level (GARCH's omega) with a learned share: a learned multiple of the same proxies' "
            f"mean over the series' last {arch['history_days']} days (a request with fewer prices: over those it "
            "has),"
        )
    return [
        "",
        f"The interval's width is the variance estimate: each day's variance proxy (squared return, squared "
        f"Parkinson and Garman-Klass ranges, squared overnight gap) weighted by {weights},{long_run} "
        "so each answer's `width` says which days carry it (`models/forecasting/variance.py`).",
    ]


def render_forecast_card(config: dict) -> str:
    arch, train, metrics = config["architecture"], config["training"], config.get("metrics", {})
    lines = [
        f"# {config['id']}: attention {arch['cell'].upper()} stock forecaster",
        "",
        f"Reads the last {arch['lookback']} daily {_forecast_inputs(arch)} (scaled by a statistic of the "
        f"training rows only) and forecasts up to {arch['horizon']} trading days ahead: quantiles "
        f"{arch['quantiles']} of the cumulative log return, turned back into prices. Each horizon "
        f"step attends (additive attention) over the {arch['lookback']} encoder states, giving an "
        "H x L attention matrix.",
        *_variance_lines(arch),
        "",
        "## Architecture",
        f"- cell `{arch['cell']}`, {arch['layers']} layer(s), hidden {arch['hidden_size']}, attention "
        f"{arch['attention_size']}, dropout {arch['dropout']}; intervals served: "
        f"{ForecastNetConfig.from_dict(arch).intervals}",
        f"- parameters: {config['parameters']:,}; return scale {arch['scale']:.5f}",
        "",
        "## Training data",
        f"- `{train['data']}`: {train['tickers']} tickers; {train['split']}.",
        *([f"- credit: {train['credit']}"] if train.get("credit") else []),
        f"- windows: {train['windows']['train']:,} train / {train['windows']['val']:,} validation; no window "
        "crosses a split boundary; rows with missing or non-positive prices dropped (counted in the log).",
        f"- held-out tickers: {', '.join(train['heldout_tickers']) or 'none'}",
        "",
        "## Training",
        f"- device {train['device']} ({train['precision']}); best at epoch {train.get('epochs', '?')}, "
        f"{train.get('minutes', '?')} min; pinball loss, Adam lr {train['lr']}, batch {train['batch_size']}",
        *_training_commands(train),
        *([f"- {train['calibration']}"] if train.get("calibration") else []),
        *([f"- {train['note']}"] if train.get("note") else []),
        "",
        "## Results",
        f"validation pinball loss: {metrics.get('val_pinball', 'n/a')}" + _cut(metrics, "val_windows", "windows"),
        "",
    ]
    for key in ("backtest", "backtest_closes_only"):  # the second: the same backtest given closes alone
        if metrics.get(key):
            lines += [metrics[key]["table"], "", f"Command: `{metrics[key]['command']}`", ""]
    lines += [
        "## Limits",
        "- Daily data only; on such data matching the random walk (the naive last price) is the "
        "realistic best point forecast. The value is in calibrated intervals, not in beating it.",
        "- Not investment advice.",
        "",
    ]
    return current_commands("\n".join(lines))


def render_card(config: dict) -> str:
    return render_forecast_card(config) if config["task"] == "forecast" else render_translation_card(config)


def rewrite_card(directory: Path, config: dict) -> None:
    (directory / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    (directory / CARD).write_text(render_card(config))
    write_manifest(directory)


def update_metrics(directory: Path, metrics: dict) -> None:
    config = json.loads((directory / CONFIG).read_text())
    config.setdefault("metrics", {}).update(metrics)
    rewrite_card(directory, config)


def main(argv=None) -> None:
    p = parser("training.card", __doc__)
    p.add_argument(
        "--checkpoint", required=True, help="checkpoint folder whose MODEL_CARD.md is rewritten from its config.json"
    )
    p.add_argument("--baseline", default=None, help="checkpoint of the attention=none baseline")
    args = p.parse_args(argv)
    directory = Path(args.checkpoint)
    config = json.loads((directory / CONFIG).read_text())
    if args.baseline:
        base = json.loads((Path(args.baseline) / CONFIG).read_text())
        config["baseline"] = {
            "id": base["id"],
            "metrics": base.get("metrics", {}),
            "command": base["training"]["command"],
            "parameters": base["parameters"],
        }
    rewrite_card(directory, config)


if __name__ == "__main__":
    main()
