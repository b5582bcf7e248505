import numpy as np

from digitsum.evaluation.evaluate import metrics_from_probs


def test_accuracy_by_true_digit_shows_where_errors_lie():
    digits = np.array([[1, 1, 7, 0], [1, 2, 7, 0]])
    read = digits.copy()
    read[0, 0] = 7                                          # one flagged 1 read as 7
    digit_probs = np.eye(10)[read].astype(np.float32)       # (2, 4, 10), certain
    sums = digits.sum(1)
    sum_probs = np.eye(37)[read.sum(1)].astype(np.float32)
    m = metrics_from_probs(digit_probs, sum_probs, sums, digits)
    assert m["class_accuracy"] == {0: 1.0, 1: 2 / 3, 2: 1.0, 7: 1.0}
    assert m["digit_accuracy"] == 7 / 8 and m["sum_accuracy"] == 0.5
    assert metrics_from_probs(None, sum_probs, sums)["class_accuracy"] is None
