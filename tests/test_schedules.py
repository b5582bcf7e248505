"""The learning-rate schedules of `python -m train --schedule`: the factor of --lr at chosen steps,
and the scheduler that applies it to the optimizer, from the first step or from a resumed one."""
import argparse
import math

import pytest
import torch

from train.loop import lr_factor, make_scheduler

LR = 0.5


def flags(schedule: str, steps: int = 100, warmup_steps: int = 10) -> argparse.Namespace:
    return argparse.Namespace(schedule=schedule, steps=steps, warmup_steps=warmup_steps, lr=LR)


def optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=LR)


@pytest.mark.parametrize("step, factor", [
    (0, 0.04),                                          # starts at 4 % of --lr, whatever --warmup-steps says
    (15, 0.04 + 0.96 * 0.5),                            # half way up: cosine from 0.04 to 1
    (29, 0.04 + 0.96 * (1 - math.cos(math.pi * 29 / 30)) / 2),
    (30, 1.0),                                          # the peak, at 30 % of --steps
    (65, 0.5),                                          # half way down
    (100, 0.0),                                         # down to 0 at the last step
])
def test_one_cycle_rises_to_the_peak_at_30_percent_then_falls_to_zero(step, factor):
    assert lr_factor(flags("onecycle"), step) == pytest.approx(factor, abs=1e-12)


@pytest.mark.parametrize("step, factor", [(0, 0.1), (4, 0.5), (9, 1.0), (10, 1.0), (50, 1.0), (99, 1.0)])
def test_constant_warms_up_linearly_then_holds_the_learning_rate(step, factor):
    assert lr_factor(flags("constant"), step) == pytest.approx(factor, abs=1e-12)


@pytest.mark.parametrize("step, factor", [(0, 0.1), (9, 1.0), (10, 1.0), (55, 0.5), (100, 0.0)])
def test_cosine_warms_up_then_falls_to_zero(step, factor):
    assert lr_factor(flags("cosine"), step) == pytest.approx(factor, abs=1e-12)


def test_constant_without_warm_up_is_the_learning_rate_from_the_first_step():
    assert {lr_factor(flags("constant", warmup_steps=0), s) for s in (0, 1, 50, 99)} == {1.0}


@pytest.mark.parametrize("schedule", ["onecycle", "constant", "cosine"])
def test_the_scheduler_sets_the_optimizers_lr_to_the_factor_at_each_step(schedule):
    args = flags(schedule)
    opt = optimizer()
    scheduler = make_scheduler(args, opt)
    seen = []
    for _ in range(args.steps):
        seen.append(opt.param_groups[0]["lr"])   # the lr the step about to be taken uses
        opt.step()
        scheduler.step()
    assert seen == pytest.approx([LR * lr_factor(args, s) for s in range(args.steps)], abs=1e-12)


@pytest.mark.parametrize("schedule", ["onecycle", "constant", "cosine"])
def test_a_resumed_scheduler_continues_at_the_saved_step(schedule):
    # --resume builds the scheduler at the saved step: its lr is the uninterrupted run's there
    args = flags(schedule)
    for start in (5, 30, 70):
        opt = optimizer()
        for group in opt.param_groups:
            group["initial_lr"] = LR   # as the saved optimizer state holds it
        make_scheduler(args, opt, start)
        assert opt.param_groups[0]["lr"] == pytest.approx(LR * lr_factor(args, start), abs=1e-12), start
