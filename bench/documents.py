"""Documents through the server: inline tags placed by attention, and a file's text against its
sentences sent alone. Built from the novel test sets (sources no training sentence is near).

    .venv/bin/python -m bench.documents [--tags 300] [--paragraphs 120] [--beam 5] [--seed 0]

- **tags**: novel sentences (from English into fr, de, es) holding a name: a capitalised word, not
  the first, that the plain translation also holds exactly once (Tom, Mary, Boston...). Each
  sentence becomes a ``<p>`` of an HTML file with ``<b>`` on the name; after ``POST
  /translate/file`` the tag is right when it wraps exactly that name. The reference alignment is
  derived (a name is translated as itself), so the set is names only: a tag on a noun phrase has no
  reference here.
- **text**: paragraphs of 2-5 novel sentences (en->fr), as a .txt file of blank-line separated
  paragraphs through ``POST /translate/file`` and as sentences sent one by one (``/translate/batch``);
  BLEU of both against the sentences' references (sacreBLEU, one reference each), and the ratio.
"""

from __future__ import annotations

import html
import io
import random
import re
import sys

import httpx
import sacrebleu

from bench.common import BenchError, attnserve
from bench.real_text import groups, novel_pairs, translate
from training.cli import parser

TAG_DIRECTIONS = ["en-fr", "en-de", "en-es"]
_NAME = re.compile(r"(?<=\s)([A-Z][a-z]+)\b")
_BOLD = re.compile(r"<p>(.*?)</p>", re.S)


def with_names(client: httpx.Client, direction: str, n: int, beam: int, rng: random.Random) -> list[tuple[str, str]]:
    """(sentence, name) pairs whose plain translation holds the name exactly once."""
    source, target = direction.split("-")
    candidates = []
    for sentence, _ in novel_pairs(direction):
        names = [m.group(1) for m in _NAME.finditer(sentence)]
        if len(names) == 1 and sentence.count(names[0]) == 1:
            candidates.append((sentence, names[0]))
    rng.shuffle(candidates)
    candidates = candidates[: 2 * n]
    plain = translate(client, [s for s, _ in candidates], source, target, beam)
    kept = [(s, w) for (s, w), t in zip(candidates, plain) if len(re.findall(rf"\b{w}\b", t)) == 1]
    return kept[:n]


def bolded(sentence: str, name: str) -> str:
    """The sentence as HTML with <b> around its name."""
    at = sentence.index(name)
    return f"{html.escape(sentence[:at])}<b>{name}</b>{html.escape(sentence[at + len(name) :])}"


def tag_row(client: httpx.Client, direction: str, args, rng: random.Random) -> str:
    source, target = direction.split("-")
    cases = with_names(client, direction, args.tags, args.beam, rng)
    body = "".join(f"<p>{bolded(s, w)}</p>\n" for s, w in cases)
    page = f"<!doctype html><html><body>\n{body}</body></html>\n".encode()
    answer = client.post(
        "/translate/file",
        files={"file": ("tags.html", io.BytesIO(page))},
        data={"source_lang": source, "target_lang": target, "beam_size": str(args.beam)},
    )
    if answer.status_code != 200:
        raise BenchError(f"/translate/file answered {answer.status_code}: {answer.text[:300]}")
    paragraphs = _BOLD.findall(answer.text)
    if len(paragraphs) != len(cases):
        raise BenchError(f"{len(cases)} paragraphs sent, {len(paragraphs)} came back")
    right = kept = 0
    for (_, name), out in zip(cases, paragraphs):
        bold = re.findall(r"<b>(.*?)</b>", out)
        kept += len(bold) == 1
        right += bold == [name]
    return f"| {direction} | {len(cases)} | {kept / len(cases):.1%} | {right} | {right / len(cases):.1%} |"


def text_row(client: httpx.Client, args) -> str:
    chosen = groups(novel_pairs("en-fr"), args.paragraphs, random.Random(args.seed))
    paragraphs = [" ".join(s for s, _ in g) for g in chosen]
    references = [" ".join(r for _, r in g) for g in chosen]
    answer = client.post(
        "/translate/file",
        files={"file": ("text.txt", io.BytesIO("\n\n".join(paragraphs).encode()))},
        data={"source_lang": "en", "target_lang": "fr", "beam_size": str(args.beam), "job": "false"},
    )
    if answer.status_code != 200:
        raise BenchError(f"/translate/file answered {answer.status_code}: {answer.text[:300]} (raise the cost cap?)")
    from_file = answer.content.decode().split("\n\n")
    sentences = translate(client, [s for g in chosen for s, _ in g], "en", "fr", args.beam)
    alone, at = [], 0
    for g in chosen:
        alone.append(" ".join(sentences[at : at + len(g)]))
        at += len(g)
    file_bleu = sacrebleu.corpus_bleu(from_file, [references]).score
    alone_bleu = sacrebleu.corpus_bleu(alone, [references]).score
    return f"| en-fr | {len(chosen)} | {file_bleu:.2f} | {alone_bleu:.2f} | {file_bleu / alone_bleu:.3f} |"


def main(argv: list[str] | None = None) -> None:
    p = parser("bench.documents", __doc__)
    p.add_argument("--tags", type=int, default=300, help="tagged sentences per direction")
    p.add_argument("--paragraphs", type=int, default=120, help="paragraphs in the text file")
    p.add_argument("--beam", type=int, default=5, help="beam size")
    p.add_argument("--seed", type=int, default=0, help="which sentences are drawn")
    p.add_argument("--checkpoint-dir", default="checkpoints", help="checkpoints the server serves")
    args = p.parse_args(argv)
    settings = {"ATTNSERVE_MAX_REQUEST_COST": "100000000", "ATTNSERVE_MAX_UPLOAD_BYTES": str(1 << 24)}
    try:
        with (
            attnserve(args.checkpoint_dir, 32, None, settings) as server,
            httpx.Client(base_url=server.url, timeout=1800) as client,
        ):
            rng = random.Random(args.seed)
            tags = [tag_row(client, d, args, rng) for d in TAG_DIRECTIONS]
            text = text_row(client, args)
    except BenchError as exc:
        sys.exit(f"bench.documents: {exc}")
    print(f"Bold on a name in novel sentences, through POST /translate/file (HTML), beam {args.beam}:\n")
    print("| direction | sentences | one <b> kept | on exactly the name | share |\n|---|---:|---:|---:|---:|")
    print("\n".join(tags))
    print("\nA .txt file of paragraphs of 2-5 novel sentences against the same sentences sent alone (BLEU):\n")
    print("| direction | paragraphs | file | sentences alone | file / alone |\n|---|---:|---:|---:|---:|")
    print(text)


if __name__ == "__main__":
    main()
