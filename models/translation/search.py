"""Batched greedy and beam search that keep the attention of the chosen hypothesis.

Both return, per source sentence, a ``Hypothesis`` whose ``attention`` has one row per
produced token (the end-of-sentence token included when it was produced) and one
column per source token. In beam search the attention history is reordered by the
back-pointers at every step, so the rows of the winner are the rows that winner's own
prefix produced, not those of whatever hypothesis ended in the same beam slot.

``score`` is the sum of the token log-probabilities (end-of-sentence included).
``no_repeat_ngram=n`` (n >= 2) forbids any token that would repeat an n-gram the hypothesis
already holds: the guard against the loops ("de l'actitude de l'actitude ...") that attention
models fall into on unfamiliar input.
Beam search ranks finished hypotheses by a length-normalised score (``models.translation.nbest``); with
``n_best=True`` each winner also carries the others of its sentence in ``alternatives``, ranked
the same way, each with its own attention rows and p_gen (greedy search: none).

Each search is also a generator (``greedy_steps``, ``beam_steps``) that yields after every
decoding step and returns the hypotheses, so a scheduler can interleave the steps of several
searches and stop one nobody waits for. ``dropped(b)`` (checked between steps) says that
nobody waits for sentence ``b`` any more: its rows leave the batch as if they had reached their
length limit, and its hypothesis is whatever it had (not worth reading).
"""

from __future__ import annotations

from typing import Any, TypeVar

import torch
from torch import Tensor

from models.served import Dropped, Steps
from models.translation.attention import Memory
from models.translation.nbest import Finished, Hypothesis, hypothesis
from models.translation.rnn import select_state
from models.translation.seq2seq import Seq2Seq

T = TypeVar("T")


def run_to_end(steps: Steps[T]) -> T:
    """Drive a step generator to its end; its result."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            result: T = done.value
            return result


def _without_grad(steps: Steps[T]) -> Steps[T]:
    """Each step of ``steps`` under ``torch.no_grad``, the caller's grad mode back in between:
    a ``with`` around the whole generator would leak into whatever runs between its steps."""
    while True:
        with torch.no_grad():
            try:
                next(steps)
            except StopIteration as done:
                result: T = done.value
                return result
        yield


def default_max_lengths(src_lengths: Tensor, cap: int = 256) -> Tensor:
    """A generous per-sentence output limit: 2 * source + 10 tokens, at most ``cap``."""
    return (src_lengths * 2 + 10).clamp(max=cap)


def _as_max_lengths(max_length: int | None, src_lengths: Tensor) -> Tensor:
    if max_length is None:
        return default_max_lengths(src_lengths)
    return torch.full_like(src_lengths, max_length)


def block_repeats(log_probs: Tensor, tokens: Tensor, n: int) -> Tensor:
    """log_probs (R, V), tokens (R, t) produced so far -> log_probs with -inf wherever the next
    token would complete an n-gram that already occurs in that row's tokens."""
    if n < 2 or tokens.size(1) < n:
        return log_probs
    windows = tokens.unfold(1, n, 1)  # (R, t - n + 1, n): every n-gram so far
    suffix = tokens[:, tokens.size(1) - n + 1 :].unsqueeze(1)  # (R, 1, n - 1): what the next token extends
    repeats = (windows[:, :, :-1] == suffix).all(dim=2)  # (R, W): n-grams starting like the suffix
    banned = torch.zeros_like(log_probs).scatter_add_(1, windows[:, :, -1], repeats.to(log_probs.dtype))
    return log_probs.masked_fill(banned > 0, float("-inf"))


class _Decoding:
    """The decoder's per-row tensors during search; ``keep`` drops finished rows, so the
    rest of the batch stops paying for sentences that are done."""

    def __init__(self, model: Seq2Seq, memory: Memory, keys: Tensor, prev: Tensor):
        self.model, self.memory, self.keys, self.prev = model, memory, keys, prev
        self.state, self.att_vec = model.decoder.init_state(memory)

    def step(self) -> tuple[Tensor, Tensor]:
        """-> log-probabilities (N, V) float32, weights (N, S + 1) float32: the attention
        weights with the copy gate p_gen appended as a last column (1.0 without copying), so
        that one history tensor carries both through the back-pointers."""
        decoder = self.model.decoder
        self.att_vec, self.state, w, p_gen = decoder.step(self.prev, self.state, self.att_vec, self.memory, self.keys)
        log_probs, _ = decoder.log_probs(self.att_vec, w, p_gen, self.memory.ids)
        gate = w.new_ones(w.size(0), 1) if p_gen is None else p_gen.to(w.dtype)
        return log_probs, torch.cat([w, gate], dim=1).float()

    def keep(self, rows: Tensor, same_sentences: bool = False) -> None:
        """Keep (and reorder to) ``rows`` (N',) of every tensor. ``same_sentences``: the rows
        only move between beams of one sentence, whose encoder memory is the same, so the
        memory is left as it is."""
        if not same_sentences:
            self.memory, self.keys = self.memory.index_select(rows), self.keys.index_select(0, rows)
        self.state = select_state(self.state, rows)
        self.att_vec, self.prev = self.att_vec.index_select(0, rows), self.prev.index_select(0, rows)


def greedy_search(model: Seq2Seq, src: Tensor, src_lengths: Tensor, *args: Any, **options: Any) -> list[Hypothesis]:
    """src (B, S), src_lengths (B,) -> B hypotheses: ``greedy_steps`` run to its end."""
    return run_to_end(greedy_steps(model, src, src_lengths, *args, **options))


def greedy_steps(
    model: Seq2Seq,
    src: Tensor,
    src_lengths: Tensor,
    max_length: int | None = None,
    no_repeat_ngram: int = 0,
    dropped: Dropped | None = None,
) -> Steps[list[Hypothesis]]:
    """src (B, S), src_lengths (B,) -> B hypotheses, one decoding step at a time (see the module
    docstring)."""
    return (yield from _without_grad(_greedy(model, src, src_lengths, max_length, no_repeat_ngram, dropped)))


def _greedy(
    model: Seq2Seq,
    src: Tensor,
    src_lengths: Tensor,
    max_length: int | None,
    no_repeat_ngram: int,
    dropped: Dropped | None,
) -> Steps[list[Hypothesis]]:
    cfg = model.config
    batch, device = src.size(0), src.device
    limits = _as_max_lengths(max_length, src_lengths).to(device)
    horizon = int(limits.max())
    memory = model.encode(src, src_lengths)
    run = _Decoding(
        model,
        memory,
        model.decoder.attention.prepare(memory),
        torch.full((batch,), cfg.bos_id, dtype=torch.long, device=device),
    )
    ids = torch.full((batch, horizon), cfg.pad_id, dtype=torch.long, device=device)
    attn = torch.zeros(batch, horizon, src.size(1) + 1, device=device)  # weights and p_gen
    scores = torch.zeros(batch, dtype=torch.float64, device=device)
    produced = torch.zeros(batch, dtype=torch.long, device=device)  # tokens per row so far
    alive = torch.arange(batch, device=device)  # original rows still decoding
    for t in range(horizon):
        log_probs, w = run.step()
        log_probs = block_repeats(log_probs, ids[alive, :t], no_repeat_ngram)
        best_lp, best = log_probs.max(dim=-1)
        scores[alive] += best_lp.double()
        produced[alive] = t + 1
        ids[alive, t], attn[alive, t] = best, w
        run.prev = best
        going = (best != cfg.eos_id) & (limits[alive] > t + 1)
        yield
        if dropped is not None:
            going &= torch.tensor([not dropped(b) for b in alive.tolist()], dtype=torch.bool, device=device)
        if not bool(going.any()):
            break
        if not bool(going.all()):
            rows = going.nonzero().squeeze(1)
            alive = alive.index_select(0, rows)
            run.keep(rows)
    ids_list, attn_np = ids.cpu().tolist(), attn.cpu().numpy()
    lengths, produced_list = src_lengths.tolist(), produced.tolist()
    hyps = []
    for b in range(batch):
        row = ids_list[b][: produced_list[b]]
        ended = cfg.eos_id in row
        n = row.index(cfg.eos_id) if ended else len(row)
        hyps.append(hypothesis(row[:n], ended, float(scores[b]), attn_np[b, : n + ended], lengths[b], cfg.copy))
    return hyps


def _best_candidates(beam_scores: Tensor, log_probs: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """beam_scores (A, K), log_probs (A*K, V) -> the 2K best continuations of each sentence:
    their scores (A, 2K), the flat row (A*K) each extends, and the token it adds (A, 2K)."""
    groups, vocab = beam_scores.size(0), log_probs.size(-1)
    candidates = (beam_scores.view(-1, 1) + log_probs).view(groups, k * vocab)
    top_scores, top_idx = candidates.topk(2 * k, dim=1)
    offsets = (torch.arange(groups, device=log_probs.device) * k).unsqueeze(1)  # (A, 1)
    return top_scores, torch.div(top_idx, vocab, rounding_mode="floor") + offsets, top_idx % vocab


def beam_search(model: Seq2Seq, src: Tensor, src_lengths: Tensor, *args: Any, **options: Any) -> list[Hypothesis]:
    """src (B, S), src_lengths (B,) -> B hypotheses, the best of ``beam_size`` beams each:
    ``beam_steps`` run to its end."""
    return run_to_end(beam_steps(model, src, src_lengths, *args, **options))


def beam_steps(
    model: Seq2Seq,
    src: Tensor,
    src_lengths: Tensor,
    beam_size: int = 5,
    max_length: int | None = None,
    length_penalty: float = 1.0,
    no_repeat_ngram: int = 0,
    dropped: Dropped | None = None,
    n_best: bool = False,
) -> Steps[list[Hypothesis]]:
    """src (B, S), src_lengths (B,) -> B hypotheses, the best of ``beam_size`` beams each, one
    decoding step at a time (see the module docstring); beam 1 is greedy. ``n_best``: each
    winner's ``alternatives`` holds the other finished hypotheses of its sentence, best first.

    Live tensors hold A * K rows: K beams for each of the A sentences still searching
    (``alive``); a sentence leaves the batch once it has K finished hypotheses or reaches its
    length limit."""
    if beam_size == 1:
        search = _greedy(model, src, src_lengths, max_length, no_repeat_ngram, dropped)
    else:
        search = _beam(model, src, src_lengths, beam_size, max_length, length_penalty, no_repeat_ngram, dropped, n_best)
    return (yield from _without_grad(search))


def _beam(
    model: Seq2Seq,
    src: Tensor,
    src_lengths: Tensor,
    k: int,
    max_length: int | None,
    length_penalty: float,
    no_repeat_ngram: int,
    dropped: Dropped | None,
    n_best: bool,
) -> Steps[list[Hypothesis]]:
    cfg = model.config
    batch, device = src.size(0), src.device
    limits = _as_max_lengths(max_length, src_lengths).tolist()
    memory = model.encode(src, src_lengths)
    expand = torch.arange(batch, device=device).repeat_interleave(k)  # (B*K,)
    run = _Decoding(
        model,
        memory.index_select(expand),
        model.decoder.attention.prepare(memory).index_select(0, expand),
        torch.full((batch * k,), cfg.bos_id, dtype=torch.long, device=device),
    )
    beam_scores = torch.zeros(batch, k, dtype=torch.float64, device=device)  # (A, K)
    beam_scores[:, 1:] = float("-inf")  # all beams start identical: keep one
    tokens = torch.zeros(batch * k, 0, dtype=torch.long, device=device)  # (A*K, t)
    history = torch.zeros(batch * k, 0, src.size(1) + 1, device=device)  # (A*K, t, S + 1)
    finished = Finished(batch, length_penalty)
    alive = list(range(batch))  # the original sentence of each live group of K rows
    lengths = src_lengths.tolist()
    beam_offsets = torch.arange(k, device=device)

    def finish(b: int, score: float, step_tokens: Tensor, step_attn: Tensor, ended: bool) -> None:
        finished.add(b, hypothesis(step_tokens.tolist(), ended, score, step_attn.cpu().numpy(), lengths[b], cfg.copy))

    for t in range(max(limits)):
        log_probs, w = run.step()
        log_probs = block_repeats(log_probs, tokens, no_repeat_ngram)
        groups = len(alive)
        top_scores, origin, token = _best_candidates(beam_scores, log_probs.double(), k)
        is_eos = token == cfg.eos_id
        # hypotheses ending here, if among the K best candidates
        for a, j in (is_eos[:, :k] & (top_scores[:, :k] > float("-inf"))).nonzero().tolist():
            o = int(origin[a, j])
            finish(
                alive[a], float(top_scores[a, j]), tokens[o], torch.cat([history[o], w[o].unsqueeze(0)], dim=0), True
            )
        # the K best continuations that do not end become the new beams
        rank = is_eos.long() * (2 * k) + torch.arange(2 * k, device=device)
        keep = rank.topk(k, dim=1, largest=False).indices  # (A, K)
        beam_scores = top_scores.gather(1, keep)
        new_origin = origin.gather(1, keep).view(-1)
        tokens = torch.cat([tokens[new_origin], token.gather(1, keep).view(-1, 1)], dim=1)
        history = torch.cat([history[new_origin], w[new_origin].unsqueeze(1)], dim=1)
        run.keep(new_origin, same_sentences=True)
        run.prev = tokens[:, -1]
        yield
        still = []
        for a, b in enumerate(alive):
            if finished.count(b) >= k:
                continue
            if t + 1 >= limits[b] or (dropped is not None and dropped(b)):  # out of length or abandoned
                for j in range(k):
                    if beam_scores[a, j] > float("-inf"):
                        finish(b, float(beam_scores[a, j]), tokens[a * k + j], history[a * k + j], False)
                continue
            still.append(a)
        if not still:
            break
        if len(still) < groups:  # drop the finished sentences' rows
            kept = torch.tensor(still, device=device)
            rows = (kept.unsqueeze(1) * k + beam_offsets).view(-1)
            run.keep(rows)
            tokens, history = tokens.index_select(0, rows), history.index_select(0, rows)
            beam_scores = beam_scores.index_select(0, kept)
            alive = [alive[a] for a in still]
    return finished.winners(n_best)
