"""Draw a translation's attention heatmap to a PNG: the same picture as the web page's.

From a saved ``POST /translate`` answer::

    curl -s localhost:8000/translate -H 'content-type: application/json' \\
         -d '{"text": "I am very happy."}' > answer.json
    python -m training.translation.plot_attention --response answer.json --out attention.png

or straight from a checkpoint folder (no server)::

    python -m training.translation.plot_attention --checkpoint checkpoints/translator-en-fr \\
        --text "I am very happy." --beam 5 --out attention.png

Rows are the target words, columns the source words, as the page draws them by default: a target
word's row is the mean of its pieces' rows and a source word's column the sum of its pieces'
columns, so rows still sum to 1 (``models.translation.words``; an answer's own ``words`` when it
has them). ``--level pieces`` draws the subword pieces instead, each exactly as SentencePiece
writes it (``▁`` marks a word start; a piece without it continues the word before). The colour map
is the page's: viridis (sequential, colour-blind safe) on a fixed 0..1 scale, with a colour bar
ticked 0, 0.25, 0.5, 0.75, 1, so two plots compare.

A saved ``POST /translate/batch`` answer (``{"results": [...]}``) gives one PNG per result, named
after --out with the result's number, from 1 in the batch's order: ``--out attention.png`` writes
``attention-1.png``, ``attention-2.png``, ...; each file written is printed.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402

from models.checkpoint import CheckpointError  # noqa: E402
from models.translation.translator import Translator  # noqa: E402
from models.translation.words import word_attention  # noqa: E402
from training.cli import parser as cli_parser  # noqa: E402

CMAP = "viridis"


def load_answers(path: Path) -> tuple[list[dict], bool]:
    """A saved /translate answer, or each result of a /translate/batch answer -> (answers, whether
    it was a batch); each answer a dict with translation, source_tokens, target_tokens, attention."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read a JSON answer: {exc}") from exc
    batch = isinstance(data, dict) and "results" in data
    if batch:
        if not isinstance(data["results"], list) or not data["results"]:
            raise ValueError(f"{path}: a /translate/batch answer with no results")
        answers, where = data["results"], [f"{path} result {i}" for i in range(1, len(data["results"]) + 1)]
    else:
        answers, where = [data], [str(path)]
    for answer, name in zip(answers, where):
        if not isinstance(answer, dict):
            raise ValueError(f"{name}: not a /translate answer (expected a JSON object)")
        missing = [k for k in ("source_tokens", "target_tokens", "attention") if k not in answer]
        if missing:
            raise ValueError(f"{name}: not a /translate answer (missing {', '.join(missing)})")
    return answers, batch


def numbered(out: Path, count: int) -> list[Path]:
    """The files of a batch's ``count`` results: ``attention.png`` -> ``attention-1.png``, ..."""
    return [out.with_name(f"{out.stem}-{i}{out.suffix or '.png'}") for i in range(1, count + 1)]


def translate(checkpoint: Path, text: str, beam: int) -> dict:
    """Translate ``text`` with the checkpoint, in the same shape as a /translate answer."""
    [result] = Translator.load(checkpoint).translate([text], beam_size=beam)
    return {
        "translation": result.translation,
        "source_tokens": result.source_tokens,
        "target_tokens": result.target_tokens,
        "attention": result.attention,
    }


def between(answer: dict, level: str) -> tuple[list[list[float]], list[str], list[str]]:
    """(attention, target labels, source labels) between ``level`` ("words" or "pieces");
    ValueError when the answer's matrix is not target x source pieces."""
    attention = answer["attention"]
    rows, cols = len(answer["target_tokens"]), len(answer["source_tokens"])
    if len(attention) != rows or any(len(row) != cols for row in attention):
        raise ValueError(f"attention is not {rows} x {cols} (target x source pieces)")
    if level == "pieces":
        return attention, answer["target_tokens"], answer["source_tokens"]
    words = answer.get("words") or asdict(word_attention(answer["source_tokens"], answer["target_tokens"], attention))
    return words["attention"], words["target"], words["source"]


def plot(answer: dict, out: Path, title: str | None = None, level: str = "words") -> Path:
    """Write the heatmap PNG for one answer between ``level`` ("words" or "pieces"); returns ``out``."""
    attention, target, source = between(answer, level)
    rows, cols = len(target), len(source)
    width = min(24.0, 2.8 + 0.42 * max(cols, 1))
    height = min(24.0, 2.4 + 0.36 * max(rows, 1))
    fig, ax = plt.subplots(figsize=(width, height), dpi=120)
    image = ax.imshow(attention, cmap=CMAP, vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    ax.set_xticks(
        range(cols),
        source,
        rotation=45,
        ha="left",
        rotation_mode="anchor",
        family="monospace",
    )
    ax.set_yticks(range(rows), target, family="monospace")
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xlabel(f"source {level} (read)")
    ax.set_ylabel(f"target {level} (written)")
    fig.colorbar(image, ax=ax, label="attention weight (0 to 1)", shrink=0.8, ticks=[0, 0.25, 0.5, 0.75, 1])
    caption = title if title is not None else f"translation: {answer.get('translation', '')}"
    if caption:
        ax.set_title(caption, y=-0.08, loc="left", fontsize=10, va="top")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> list[Path]:
    """-> the PNG files written: one, or one per result of a batch answer."""
    parser = cli_parser("training.translation.plot_attention", __doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--response", type=Path, help="a saved /translate (or /translate/batch) answer")
    source.add_argument("--checkpoint", type=Path, help="a translator checkpoint folder")
    parser.add_argument("--text", help="text to translate (with --checkpoint)")
    parser.add_argument("--beam", type=int, default=5, help="beam size, 1..16 (with --checkpoint)")
    parser.add_argument("--out", type=Path, required=True, help="PNG file to write (a batch answer: numbered files)")
    parser.add_argument("--title", help="caption under the heatmap (default: the translation)")
    parser.add_argument(
        "--level", choices=["words", "pieces"], default="words", help="attention between words (as the page) or pieces"
    )
    args = parser.parse_args(argv)
    if args.checkpoint is not None:
        if not args.text or not args.text.strip():
            parser.error("--checkpoint needs --text")
        if not 1 <= args.beam <= 16:
            parser.error("--beam must be 1..16")
        try:
            answers, outs = [translate(args.checkpoint, args.text, args.beam)], [args.out]
        except CheckpointError as exc:
            parser.error(str(exc))
    else:
        try:
            answers, batch = load_answers(args.response)
        except ValueError as exc:
            parser.exit(2, f"{parser.prog}: error: {exc}\n")
        outs = numbered(args.out, len(answers)) if batch else [args.out]
    written = []
    for answer, out in zip(answers, outs):
        try:
            written.append(plot(answer, out, args.title, args.level))
        except ValueError as exc:
            parser.exit(2, f"{parser.prog}: error: {out}: {exc}\n")
        _, rows, columns = between(answer, args.level)
        print(f"wrote {out} ({len(rows)} x {len(columns)} {args.level})")
    return written


if __name__ == "__main__":
    main()
