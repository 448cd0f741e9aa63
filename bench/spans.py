"""Spans that must pass through a translation untouched: URLs, e-mail addresses, handles, codes,
numbers and names the model never saw, inside English sentences, through the server.

    .venv/bin/python -m bench.spans [--per-kind 40] [--beam 5] [--seed 0]

Each kind has two or more carrier sentences written for this benchmark with one slot (so no
kind's figure is one sentence's), filled with a span generated at random (seeded): so no span is
from any training set, and every name is a made-up one. A span is **kept** when it appears
verbatim in the translation, or, for a number or a price, written with the target language's
separators as the service writes it (``models.text.placeholders.format_number``: "$1,299.99" is
"$1 299,99" in French); **digits kept** counts a translation holding the span's digits in order.
Directions: en->fr, en->de, en->es. **In place**: kept where the model wrote the span's
placeholder; when the model left it out the server put the span back after the word whose
attention was on it most (and warned). Run it against other
checkpoints (``--checkpoint-dir``) to compare models.
"""

from __future__ import annotations

import random
import re
import string
import sys
from collections.abc import Callable

import httpx

from bench.common import BenchError, attnserve
from bench.real_text import answers
from models.text.placeholders import protect
from training.cli import parser

WORDS = "river stone market garden tuvali orbit maple harbor lumen cedar nova pixel".split()
SYLLABLES = "ka lo mi ran te vu sel dor bri na zu fen ko mar tho gus pe wen".split()


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


KINDS: dict[str, tuple[Callable[[random.Random], str], list[str]]] = {
    "url": (
        lambda r: f"https://www.{r.choice(WORDS)}.org/{r.choice(WORDS)}/{r.randint(100, 999)}",
        ["You can find the form at {}.", "Please read the rules on {} before you start.", "The video is at {}."],
    ),
    "e-mail": (
        lambda r: f"{_name(r).lower()}.{_name(r).lower()}@example.com",
        ["Please send the report to {} before Friday.", "You can write to {} if you have a question."],
    ),
    "handle": (
        lambda r: f"@{_name(r).lower()}{r.randint(1, 99)}",
        ["Follow {} for the latest news.", "I sent a message to {} yesterday."],
    ),
    "hashtag": (
        lambda r: f"#{_name(r)}{r.randint(2020, 2030)}",
        ["Use {} when you post your photos.", "The campaign uses the tag {} this year."],
    ),
    "order code": (
        lambda r: (
            f"{r.choice(string.ascii_uppercase)}{r.choice(string.ascii_uppercase)}-{r.randint(1000, 9999)}-"
            f"{r.choice(string.ascii_uppercase)}{r.randint(1, 9)}"
        ),
        ["Your order number is {}.", "Please quote {} when you call us."],
    ),
    "phone": (
        lambda r: f"+1 555 {r.randint(100, 999)} {r.randint(1000, 9999)}",
        ["Call me at {} tomorrow.", "Our phone number is {}."],
    ),
    "version": (
        lambda r: f"{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 9)}",
        ["Version {} fixes the bug.", "Please update to version {} today."],
    ),
    "time": (
        lambda r: f"{r.randint(1, 12)}:{r.choice(['00', '15', '30', '45'])}",
        ["The train leaves at {}.", "The meeting starts at {} tomorrow."],
    ),
    "price": (
        lambda r: f"${r.randint(1, 9)},{r.randint(100, 999)}.{r.randint(10, 99)}",
        ["The new phone costs {}.", "I paid {} for the ticket."],
    ),
    "number": (
        lambda r: f"{r.randint(1, 99)},{r.randint(100, 999)}",
        ["The city has {} inhabitants.", "We sold {} books last year."],
    ),
    "unseen name": (lambda r: _name(r), ["{} lives in a small village.", "I met {} at the station."]),
}
DIGITS = {"price", "number"}


def cases(per_kind: int, seed: int) -> list[tuple[str, str, str]]:
    """(kind, span, sentence) for every kind."""
    rng = random.Random(seed)
    out = []
    for kind, (make, carriers) in KINDS.items():
        for i in range(per_kind):
            span = make(rng)
            out.append((kind, span, carriers[i % len(carriers)].format(span)))
    return out


def formatted(sentence: str, span: str, target: str) -> str:
    """``span`` as the service writes it in ``target`` (a number or price with the target's separators)."""
    return next((p.output for p in protect(sentence, "en", target).placeholders if p.text == span), span)


def main(argv: list[str] | None = None) -> None:
    p = parser("bench.spans", __doc__)
    p.add_argument("--per-kind", type=int, default=40, help="sentences per kind and direction")
    p.add_argument("--beam", type=int, default=5, help="beam size")
    p.add_argument("--seed", type=int, default=0, help="which spans are drawn")
    p.add_argument("--checkpoint-dir", default="checkpoints", help="checkpoints the server serves")
    args = p.parse_args(argv)
    drawn = cases(args.per_kind, args.seed)
    kept: dict[tuple[str, str], list[int]] = {}
    try:
        with attnserve(args.checkpoint_dir, 32, None) as server, httpx.Client(base_url=server.url, timeout=300) as c:
            for target in ("fr", "de", "es"):
                results = answers(c, [s for _, _, s in drawn], "en", target, args.beam)
                for (kind, span, sentence), answer in zip(drawn, results):
                    out = answer["translation"]
                    in_order = re.sub(r"\D", "", span) in re.sub(r"\D", "", out)
                    counts = kept.setdefault((kind, target), [0, 0, 0, 0])
                    counts[0] += span in out or formatted(sentence, span, target) in out
                    counts[1] += in_order
                    counts[2] += 1
                    counts[3] += any(p["dropped"] for s in answer["segments"] for p in s.get("placeholders", []))
    except BenchError as exc:
        sys.exit(f"bench.spans: {exc}")
    print(
        "Spans kept verbatim or in the target's number format (digits kept, for prices and numbers), "
        f"beam {args.beam}, {args.per_kind} per kind:\n"
    )
    print("| kind | example | en→fr | en→de | en→es |\n|---|---|---:|---:|---:|")
    total = [0, 0, 0]
    for kind in KINDS:
        example = next(s for k, s, _ in drawn if k == kind)
        cells = []
        for target in ("fr", "de", "es"):
            verbatim, digits, n, dropped = kept[(kind, target)]
            total = [total[0] + verbatim, total[1] + n, total[2] + dropped]
            extra = f" ({digits / n:.0%} digits)" if kind in DIGITS else ""
            cells.append(
                f"{verbatim / n:.0%}{extra}" + (f"; {(verbatim - dropped) / n:.0%} in place" if dropped else "")
            )
        print(f"| {kind} | `{example}` | " + " | ".join(cells) + " |")
    print(
        f"\nAll kinds, all three directions: {total[0] / total[1]:.1%} kept ({total[0]} of {total[1]}), "
        f"{(total[0] - total[2]) / total[1]:.1%} where the model wrote their placeholder: in {total[2]} it left the "
        "placeholder out and the server put the span back after the word whose attention was on it most."
    )


if __name__ == "__main__":
    main()
