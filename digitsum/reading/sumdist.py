"""The exact distribution of the sum of four independent digits, and what follows from it.

p(sum = s) = sum over d1+d2+d3+d4 = s of p1(d1) p2(d2) p3(d3) p4(d4): a chain of three
convolutions of 10-way distributions, giving 37 values for s = 0..36. Done in log space so
that the loss for sum-only labels stays finite and its gradients exact.
"""
from __future__ import annotations

import itertools

import torch

N_DIGITS = 4
N_SUMS = 9 * N_DIGITS + 1  # 37: sums 0..36

# every four-digit combination once: (10000, 4), and its sum: (10000,)
ALL_DIGIT_TUPLES = torch.tensor(list(itertools.product(range(10), repeat=N_DIGITS)), dtype=torch.long)
ALL_TUPLE_SUMS = ALL_DIGIT_TUPLES.sum(dim=1)


def _log_convolve(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """log(exp(a) * exp(b)) as a convolution: a (..., n), b (..., 10) -> (..., n + 9)."""
    n, m = a.shape[-1], b.shape[-1]
    terms = a.new_full((*a.shape[:-1], n + m - 1, m), float("-inf"))
    for j in range(m):
        terms[..., j:j + n, j] = a + b[..., j:j + 1]
    return torch.logsumexp(terms, dim=-1)


def log_sum_distribution(digit_log_probs: torch.Tensor) -> torch.Tensor:
    """(..., 4, 10) log-probabilities of each digit -> (..., 37) log p(sum)."""
    out = digit_log_probs[..., 0, :]
    for k in range(1, digit_log_probs.shape[-2]):
        out = _log_convolve(out, digit_log_probs[..., k, :])
    return out


def sum_distribution(digit_probs: torch.Tensor) -> torch.Tensor:
    """(..., 4, 10) probabilities of each digit -> (..., 37) p(sum), exactly."""
    return log_sum_distribution(digit_probs.clamp_min(1e-30).log()).exp()


def sum_nll(digit_logits: torch.Tensor, sums: torch.Tensor) -> torch.Tensor:
    """Loss for sum-only labels: mean of -log p(sum = label) under the four digit distributions.

    digit_logits (B, 4, 10), sums (B,) integers in 0..36.
    """
    log_p = log_sum_distribution(torch.log_softmax(digit_logits.float(), dim=-1))  # (B, 37)
    return -log_p.gather(1, sums.long().view(-1, 1)).mean()


@torch.no_grad()
def most_likely_digits_for_sum(digit_probs: torch.Tensor, sums: torch.Tensor,
                               chunk: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """The most probable four digits that add up to the given sum, for each item.

    digit_probs (B, 4, 10), sums (B,) -> digits (B, 4) long, and p(those digits | sum) (B,).
    Exhaustive over the 10,000 tuples (cheap), so it is exact: used for pseudo-labels and
    to prefill the labeling tool.
    """
    log_p = digit_probs.float().clamp_min(1e-30).log().cpu()
    sums = sums.long().cpu()
    digits_out, conf_out = [], []
    for start in range(0, len(log_p), chunk):
        lp = log_p[start:start + chunk]                       # (b, 4, 10)
        # score[i, t] = sum_k lp[i, k, tuple_t[k]]              (b, 10000)
        score = sum(lp[:, k, ALL_DIGIT_TUPLES[:, k]] for k in range(N_DIGITS))
        allowed = ALL_TUPLE_SUMS[None, :] == sums[start:start + chunk, None]
        score = score.masked_fill(~allowed, float("-inf"))
        best = score.argmax(dim=1)
        digits_out.append(ALL_DIGIT_TUPLES[best])
        conf_out.append(torch.softmax(score, dim=1).gather(1, best[:, None]).squeeze(1))
    return torch.cat(digits_out), torch.cat(conf_out)
