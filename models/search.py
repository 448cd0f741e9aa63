"""Batched greedy and beam search that keep the attention of the chosen hypothesis.

Both return, per source sentence, a ``Hypothesis`` whose ``attention`` has one row per
produced token (the end-of-sentence token included when it was produced) and one
column per source token. In beam search the attention history is reordered by the
back-pointers at every step, so the rows of the winner are the rows that winner's own
prefix produced, not those of whatever hypothesis ended in the same beam slot.

``score`` is the sum of the token log-probabilities (end-of-sentence included).
Beam search ranks finished hypotheses by ``score / lp(len)`` with the GNMT length
penalty ``lp(n) = ((5 + n) / 6) ** length_penalty``; ``length_penalty=0`` ranks by score.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from models.decoder import select_state
from models.seq2seq import Seq2Seq


@dataclass
class Hypothesis:
    tokens: list[int]       # produced ids, end-of-sentence excluded
    ended: bool             # True when the end-of-sentence token was produced
    score: float            # sum of log-probabilities
    attention: np.ndarray   # (len(tokens) + ended, S) float32, rows sum to 1


def default_max_lengths(src_lengths: Tensor, cap: int = 256) -> Tensor:
    """A generous per-sentence output limit: 2 * source + 10 tokens, at most ``cap``."""
    return (src_lengths * 2 + 10).clamp(max=cap)


def _as_max_lengths(max_length: int | None, src_lengths: Tensor) -> Tensor:
    if max_length is None:
        return default_max_lengths(src_lengths)
    return torch.full_like(src_lengths, max_length)


@torch.no_grad()
def greedy_search(model: Seq2Seq, src: Tensor, src_lengths: Tensor,
                  max_length: int | None = None) -> list[Hypothesis]:
    """src (B, S), src_lengths (B,) -> B hypotheses."""
    cfg = model.config
    batch = src.size(0)
    limits = _as_max_lengths(max_length, src_lengths).tolist()
    memory = model.encode(src, src_lengths)
    keys = model.decoder.attention.prepare(memory)
    state, att_vec = model.decoder.init_state(memory)
    prev = torch.full((batch,), cfg.bos_id, dtype=torch.long, device=src.device)
    finished = torch.zeros(batch, dtype=torch.bool, device=src.device)
    scores = torch.zeros(batch, dtype=torch.float64, device=src.device)
    steps, weights = [], []
    for t in range(max(limits)):
        att_vec, state, w = model.decoder.step(prev, state, att_vec, memory, keys)
        log_probs = torch.log_softmax(model.decoder.logits(att_vec).float(), dim=-1)
        best_lp, best = log_probs.max(dim=-1)
        scores += torch.where(finished, torch.zeros_like(best_lp), best_lp).double()
        best = best.masked_fill(finished, cfg.pad_id)
        steps.append(best)
        weights.append(w.float())
        finished |= best == cfg.eos_id
        finished |= torch.tensor([t + 1 >= lim for lim in limits], device=src.device)
        prev = best
        if bool(finished.all()):
            break
    ids = torch.stack(steps, dim=1).cpu().tolist()       # (B, T)
    attn = torch.stack(weights, dim=1).cpu().numpy()     # (B, T, S)
    lengths = src_lengths.tolist()
    hyps = []
    for b in range(batch):
        row = ids[b][: limits[b]]
        ended = cfg.eos_id in row
        n = row.index(cfg.eos_id) if ended else len(row)
        hyps.append(Hypothesis(row[:n], ended, float(scores[b]),
                               attn[b, : n + ended, : lengths[b]].copy()))
    return hyps


@torch.no_grad()
def beam_search(model: Seq2Seq, src: Tensor, src_lengths: Tensor, beam_size: int = 5,
                max_length: int | None = None, length_penalty: float = 1.0) -> list[Hypothesis]:
    """src (B, S), src_lengths (B,) -> B hypotheses, the best of ``beam_size`` beams each."""
    if beam_size == 1:
        return greedy_search(model, src, src_lengths, max_length)
    cfg, k = model.config, beam_size
    batch, device = src.size(0), src.device
    limits = _as_max_lengths(max_length, src_lengths).tolist()
    memory = model.encode(src, src_lengths)
    keys = model.decoder.attention.prepare(memory)
    expand = torch.arange(batch, device=device).repeat_interleave(k)  # (B*K,)
    memory, keys = memory.index_select(expand), keys.index_select(0, expand)
    state, att_vec = model.decoder.init_state(memory)
    prev = torch.full((batch * k,), cfg.bos_id, dtype=torch.long, device=device)
    beam_scores = torch.zeros(batch, k, dtype=torch.float64, device=device)
    beam_scores[:, 1:] = float("-inf")  # all beams start identical: keep one
    tokens = torch.zeros(batch * k, 0, dtype=torch.long, device=device)
    history = torch.zeros(batch * k, 0, src.size(1), device=device)  # (B*K, t, S)
    finals: list[list[tuple[float, Hypothesis]]] = [[] for _ in range(batch)]
    done = [False] * batch
    lengths = src_lengths.tolist()

    def finish(b: int, flat: int, score: float, step_tokens: Tensor, step_attn: Tensor, ended: bool):
        n = step_tokens.size(0) + ended
        hyp = Hypothesis(step_tokens.tolist(), ended, score,
                         step_attn[:, : lengths[b]].cpu().numpy().copy())
        finals[b].append((score / (((5 + n) / 6) ** length_penalty), hyp))

    offsets = (torch.arange(batch, device=device) * k).unsqueeze(1)  # (B, 1)
    for t in range(max(limits)):
        att_vec, state, w = model.decoder.step(prev, state, att_vec, memory, keys)
        log_probs = torch.log_softmax(model.decoder.logits(att_vec).float(), dim=-1).double()
        vocab = log_probs.size(-1)
        candidates = (beam_scores.view(-1, 1) + log_probs).view(batch, k * vocab)
        top_scores, top_idx = candidates.topk(2 * k, dim=1)  # (B, 2K)
        origin = torch.div(top_idx, vocab, rounding_mode="floor") + offsets  # flat beam index
        token = top_idx % vocab
        is_eos = token == cfg.eos_id
        # hypotheses ending here, if among the K best candidates
        for b, j in (is_eos[:, :k] & (top_scores[:, :k] > float("-inf"))).nonzero().tolist():
            if not done[b]:
                o = int(origin[b, j])
                attn = torch.cat([history[o], w[o].float().unsqueeze(0)], dim=0)
                finish(b, o, float(top_scores[b, j]), tokens[o], attn, True)
        # the K best continuations that do not end become the new beams
        rank = is_eos.long() * (2 * k) + torch.arange(2 * k, device=device)
        keep = rank.topk(k, dim=1, largest=False).indices  # (B, K)
        beam_scores = top_scores.gather(1, keep)
        new_origin = origin.gather(1, keep).view(-1)
        new_token = token.gather(1, keep).view(-1)
        tokens = torch.cat([tokens[new_origin], new_token.unsqueeze(1)], dim=1)
        history = torch.cat([history[new_origin], w.float()[new_origin].unsqueeze(1)], dim=1)
        state = select_state(state, new_origin)
        att_vec = att_vec.index_select(0, new_origin)
        prev = new_token
        for b in range(batch):
            if done[b]:
                continue
            if len(finals[b]) >= k:
                done[b] = True
            elif t + 1 >= limits[b]:  # out of length: the live beams end unfinished
                for j in range(k):
                    flat = b * k + j
                    if beam_scores[b, j] > float("-inf"):
                        finish(b, flat, float(beam_scores[b, j]), tokens[flat], history[flat], False)
                done[b] = True
        if all(done):
            break
    return [max(f, key=lambda item: item[0])[1] for f in finals]
