import itertools

import pytest
import torch

from digitsum.reading.sumdist import most_likely_digits_for_sum, sum_distribution, sum_nll


def brute_force_sum(p):
    out = torch.zeros(37, dtype=torch.float64)
    for d in itertools.product(range(10), repeat=4):
        out[sum(d)] += p[0, d[0]] * p[1, d[1]] * p[2, d[2]] * p[3, d[3]]
    return out


def test_sum_distribution_is_the_exact_convolution():
    torch.manual_seed(0)
    p = torch.softmax(torch.randn(3, 4, 10, dtype=torch.float64) * 2, -1)
    q = sum_distribution(p)
    assert q.shape == (3, 37)
    for i in range(3):
        assert torch.allclose(q[i], brute_force_sum(p[i]), atol=1e-12)
    assert torch.allclose(q.sum(-1), torch.ones(3, dtype=torch.float64))


def test_certain_digits_give_a_certain_sum():
    p = torch.nn.functional.one_hot(torch.tensor([[9, 9, 9, 9], [0, 0, 0, 0], [3, 1, 4, 1]]), 10).double()
    assert sum_distribution(p).argmax(-1).tolist() == [36, 0, 9]


def test_sum_loss_is_finite_and_drives_the_right_digits():
    logits = torch.full((1, 4, 10), -50.0)
    logits[0, :, 0] = 50.0                      # confidently all zeros...
    logits.requires_grad_(True)
    loss = sum_nll(logits, torch.tensor([36]))  # ...but the label says 36
    loss.backward()
    assert torch.isfinite(loss) and loss > 50 and torch.isfinite(logits.grad).all()
    assert (logits.grad[0, :, 9] < 0).all()     # gradient descent raises p(9) in every place


def test_most_likely_digits_respect_the_sum():
    torch.manual_seed(1)
    p = torch.softmax(torch.randn(20, 4, 10) * 3, -1)
    sums = torch.randint(0, 37, (20,))
    digits, conf = most_likely_digits_for_sum(p, sums)
    assert (digits.sum(1) == sums).all()
    # exhaustive check for one item: the best tuple of that sum, and its share of the sum's probability
    def prob(d):
        return float(p[0, 0, d[0]] * p[0, 1, d[1]] * p[0, 2, d[2]] * p[0, 3, d[3]])
    with_sum = [d for d in itertools.product(range(10), repeat=4) if sum(d) == sums[0]]
    best = max(with_sum, key=prob)
    assert tuple(digits[0].tolist()) == best
    assert float(conf[0]) == pytest.approx(prob(best) / sum(map(prob, with_sum)), rel=1e-4)
