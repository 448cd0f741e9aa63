"""Which language identifier should /translate use to detect the source language? Accuracy on
short real sentences, load time, memory and per-text latency of py3langid and lingua.

    python -m bench.language_id            # every distinct test source of the four languages
    python -m bench.language_id --limit 500 --threshold 0.8

lingua is not a dependency of the service: ``pip install lingua-language-detector==2.1.1`` into
the venv first to run its rows (or ``--only`` the others).

Texts: the distinct source sentences of the held-out test sets, English from
``data/splits/test.tsv`` and French, German and Spanish from ``data/splits-multi/<xx>-en/test.tsv``
(Tatoeba sentences, mostly under 40 characters). Each detector is restricted to those four
languages, as the service restricts it to the languages it serves, and runs in its own fresh
process, so its load time (import included) and resident memory (RSS after loading minus RSS
before importing it) are its own. Printed: accuracy over all texts, over texts of at most 20
characters, per language; the baseline "always the most common language" beside them; and, at
``--threshold``, the share of texts whose confidence is below it and the share of errors among
those (what a low-confidence warning would flag).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench.common import ROOT, BenchError
from training.cli import parser

LANGS = ("en", "fr", "de", "es")
SHORT = 20  # characters: the "short text" band
SOURCES = {  # language -> (test file, column holding that language)
    "en": (Path("data/splits/test.tsv"), 0),
    "fr": (Path("data/splits-multi/fr-en/test.tsv"), 0),
    "de": (Path("data/splits-multi/de-en/test.tsv"), 0),
    "es": (Path("data/splits-multi/es-en/test.tsv"), 0),
}
Detect = Callable[[str], tuple[str, float]]
SERVICE_MIN_CONFIDENCE = 0.9  # ATTNSERVE_DETECT_MIN_CONFIDENCE's default


def test_texts(root: Path, limit: int | None, seed: int = 0) -> list[tuple[str, str]]:
    """-> (language, text) for the distinct test sources of every language (at most ``limit`` per
    language, a seeded sample). Raises BenchError naming a missing file."""
    out = []
    for lang, (path, column) in SOURCES.items():
        file = root / path
        if not file.exists():
            raise BenchError(f"{file} is missing: it is written by training (docs/training.md)")
        lines = file.read_text(encoding="utf-8").splitlines()
        texts = sorted({line.split("\t")[column] for line in lines if line.strip()})
        if limit is not None and len(texts) > limit:
            texts = sorted(random.Random(seed).sample(texts, limit))
        out += [(lang, text) for text in texts]
    return out


def load_py3langid() -> Detect:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGS))
    return lambda text: identifier.classify(text)


def _load_lingua(low_accuracy: bool) -> Detect:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    builder = LanguageDetectorBuilder.from_iso_codes_639_1(*(getattr(IsoCode639_1, c.upper()) for c in LANGS))
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    detector = builder.with_preloaded_language_models().build()

    def detect(text: str) -> tuple[str, float]:
        best = detector.compute_language_confidence_values(text)[0]
        return best.language.iso_code_639_1.name.lower(), best.value

    return detect


def load_service() -> Detect:
    """What the service runs: ``app.core.language.LanguageDetector`` over the four languages, with
    its check that the text is not in another language at the default confidence threshold."""
    from app.core.language import LanguageDetector

    detector = LanguageDetector(LANGS)

    def detect(text: str) -> tuple[str, float]:  # a confident language not served is a 422 there: wrong here
        found = detector.unserved(text, SERVICE_MIN_CONFIDENCE) or detector.detect(text)
        return found.language, found.confidence

    return detect


DETECTORS: dict[str, Callable[[], Detect]] = {
    "py3langid 0.4.0": load_py3langid,
    "lingua 2.1.1 (high accuracy)": lambda: _load_lingua(False),
    "lingua 2.1.1 (low accuracy)": lambda: _load_lingua(True),
    "the service (app.core.language)": load_service,
}


def rss_mb() -> float:
    """This process's resident memory in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError("no VmRSS in /proc/self/status")


def measure(name: str, root: Path, limit: int | None) -> dict:
    """One detector in this process: load time and memory, then every text."""
    texts = test_texts(root, limit)
    before, tick = rss_mb(), time.perf_counter()
    detect = DETECTORS[name]()
    detect("warm up")
    load_s, memory = time.perf_counter() - tick, rss_mb() - before
    tick = time.perf_counter()
    answers = [detect(text) for _, text in texts]
    per_text = (time.perf_counter() - tick) / len(texts)
    return {"load_s": load_s, "rss_mb": memory, "us_per_text": per_text * 1e6, "answers": answers}


def in_subprocess(name: str, root: Path, limit: int | None) -> dict:
    command = [sys.executable, "-m", "bench.language_id", "--one", name, "--root", str(root)]
    done = subprocess.run(
        [*command, *(["--limit", str(limit)] if limit else [])], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode:
        raise BenchError(f"{name}: {done.stderr[-1000:]}")
    return json.loads(done.stdout)


def scores(texts: list[tuple[str, str]], answers: list[tuple[str, float]], threshold: float) -> dict:
    right = [lang == got for (lang, _), (got, _) in zip(texts, answers)]
    short = [ok for (_, text), ok in zip(texts, right) if len(text) <= SHORT]
    low = [ok for ok, (_, conf) in zip(right, answers) if conf < threshold]
    per_lang = {lang: [ok for (known, _), ok in zip(texts, right) if known == lang] for lang in LANGS}
    return {
        "all": sum(right) / len(right),
        "short": sum(short) / max(1, len(short)),
        **{lang: sum(v) / max(1, len(v)) for lang, v in per_lang.items()},
        "flagged": len(low) / len(right),
        "errors_flagged": (len(low) - sum(low)) / max(1, len(right) - sum(right)),
    }


def table(texts: list[tuple[str, str]], results: dict[str, dict], threshold: float) -> str:
    counts = Counter(lang for lang, _ in texts)
    common, n = counts.most_common(1)[0]
    shorts = Counter(lang for lang, text in texts if len(text) <= SHORT)
    head = (
        f"| detector | accuracy | ≤{SHORT} chars | " + " | ".join(LANGS) + f" | conf < {threshold:g} "
        "| of the errors | load | memory | per text |"
    )
    rows = [head, "|" + "---|" + "---:|" * (len(LANGS) + 8)]
    baseline = [f"{n / len(texts):.3f}", f"{shorts[common] / max(1, sum(shorts.values())):.3f}"]
    baseline += [f"{1.0 if lang == common else 0.0:.3f}" for lang in LANGS]
    rows.append(f"| always '{common}' (most common) | " + " | ".join(baseline) + " | | | | | |")
    for name, result in results.items():
        s = scores(texts, [tuple(a) for a in result["answers"]], threshold)
        cells = [f"{s['all']:.3f}", f"{s['short']:.3f}", *(f"{s[lang]:.3f}" for lang in LANGS)]
        cells += [f"{s['flagged']:.1%}", f"{s['errors_flagged']:.1%}", f"{result['load_s']:.2f} s"]
        cells += [f"{result['rss_mb']:.0f} MB", f"{result['us_per_text']:.0f} µs"]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    sizes = ", ".join(f"{lang} {counts[lang]}" for lang in LANGS)
    return "\n".join(rows) + f"\n\n{len(texts)} texts ({sizes}); {sum(shorts.values())} of at most {SHORT} characters"


def main(argv: list[str] | None = None) -> int:
    p = parser("bench.language_id", __doc__)
    p.add_argument("--root", type=Path, default=ROOT, help="folder holding data/splits and data/splits-multi")
    p.add_argument("--limit", type=int, help="at most this many texts per language (a seeded sample)")
    p.add_argument("--threshold", type=float, default=0.5, help="confidence below which a warning would be given")
    p.add_argument("--only", nargs="+", choices=list(DETECTORS), help="the detectors to run (default: all)")
    p.add_argument(
        "--one", choices=list(DETECTORS), help="measure only this detector and print its figures as JSON (internal)"
    )
    args = p.parse_args(argv)
    try:
        if args.one:
            print(json.dumps(measure(args.one, args.root, args.limit)))
            return 0
        texts = test_texts(args.root, args.limit)
        results = {name: in_subprocess(name, args.root, args.limit) for name in args.only or DETECTORS}
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(table(texts, results, args.threshold))
    return 0


if __name__ == "__main__":
    sys.exit(main())
