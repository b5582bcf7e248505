"""The parts of one training run that every stretch of steps and every save point works on."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch

from .distributed import Context
from .ema import EMA
from .report import MetricsLog


@dataclass
class Run:
    """Built once by train.main.main, after the resume check and before the first step."""
    args: argparse.Namespace
    command: str                     # the command line, as the model card and the saved state record it
    ctx: Context                     # this process: its rank, the number of processes, its device
    model: torch.nn.Module           # the weights themselves: what is saved, what the EMA follows
    train_model: torch.nn.Module     # what the steps call: the model, wrapped for DDP and/or compiled
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    ema: EMA | None                  # None with --ema-decay 0
    log: MetricsLog
