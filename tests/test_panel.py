"""The prediction panel's values (Draw and Upload), without a browser: one sum, empty places shown
as empty, warnings folded into one line."""
import numpy as np
import pytest

from digitsum.reading.predict import Prediction
from digitsum.reading.sumdist import sum_distribution

pytest.importorskip("gradio")
from digitsum.ui.panel import SHOWN, PredictionPanel, answer, summary  # noqa: E402


def reading(rows, four=True, warnings=()):
    import torch
    probs = np.array(rows, np.float32)
    return Prediction(np.zeros((40, 168), np.float32), probs, sum_distribution(torch.from_numpy(probs)).numpy(),
                      warnings=list(warnings), four_digit_score=0.9 if four else 0.1)


def one_hot(d, p=0.98):
    row = np.full(10, (1 - p) / 9)
    row[d] = p
    return row


@pytest.fixture(scope="module")
def panel():
    import gradio as gr
    with gr.Blocks():
        return PredictionPanel()


def test_the_line_the_card_and_the_chart_show_one_sum_when_the_distribution_peaks_elsewhere(panel):
    # 0 or 6 in places 1 and 3 (0 a little likelier in each): the digits read are 0 9 0 9 = 18, while
    # the distribution peaks at 24 (one of the two a 6): the case a drawn 6969 once showed as 18 and 24
    ambiguous = np.zeros(10)
    ambiguous[[0, 6]] = [0.52, 0.48]
    pred = reading([ambiguous, one_hot(9), ambiguous, one_hot(9)])
    assert pred.digits == [0, 9, 0, 9] and pred.total == 24
    *digits, card, chart, _, line = panel.outputs(pred)
    assert answer(pred) == 18
    assert "sum **18**" in line and "sum **24**" not in line
    assert list(card) == ["18"]                                        # the card: that sum, its probability
    assert np.isclose(card["18"], pred.sum_probs[18])
    assert chart.loc[chart["bar"] == SHOWN, "sum"].tolist() == [18]   # the bar marked: that sum
    assert "peaks at 24" in line                                      # and the other peak said, once
    assert [max(d, key=d.get) for d in digits] == ["0", "9", "0", "9"]


def test_empty_places_show_as_empty_and_no_sum_is_invented(panel):
    pred = reading([one_hot(1), one_hot(5), one_hot(1), one_hot(1)], four=False,
                   warnings=["this does not look like four digits: fewer than four digit-like marks were found"])
    *digits, card, chart, _, line = panel.outputs(pred, empty=[2, 3, 4])
    assert digits == ["drawn", "empty", "empty", "empty"]
    assert card == "—" and chart["probability"].sum() == 0
    assert line.startswith("### Places 2, 3 and 4 are empty") and "5" not in line
    # four digits found, though not one per box: read, and the empty box is a warning
    four = reading([one_hot(1), one_hot(5), one_hot(1), one_hot(1)], warnings=["place 4 looks empty: ..."])
    *digits, card, _, _, line = panel.outputs(four, empty=[4])
    assert list(card) == ["8"] and "sum **8**" in line


def test_warnings_fold_into_one_line_that_opens():
    warnings = [f"warning {k}" for k in range(7)]
    text = summary(reading([one_hot(1)] * 4, four=False, warnings=warnings))
    head, rest = text.split("\n\n", 1)
    assert head.startswith("### best guess: digits 1 1 1 1") and "\n" not in head
    assert rest.startswith('<details class="warnings"><summary>⚠️ 7 warnings: warning 0</summary>')
    assert rest.count("<li>") == 7 and "\n" not in rest
