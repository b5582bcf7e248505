"""The flags of `python -m train.experiments seeds | table | reader-mnist`, and errors as one line."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from digitsum.errors import DigitsumError
from digitsum.flags import OneLineParser, nonnegative_int

from .plan import BUDGETS, ROOT
from .reader import read_mnist_digits
from .seeds import run_seeds
from .systems import SYSTEMS
from .table import rewrite_table


def part(text: str) -> tuple[int, int]:
    """--part K/N: the K-th of N consecutive groups of rows of about equal estimated time."""
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"give K/N (e.g. 1/2), not {text!r}") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"K/N needs 1 <= K <= N, not {text}")
    return k, n


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m train.experiments", description="Reproduce the seeds' comparisons.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    s = sub.add_parser("seeds", help="train every system of the seeds' table and write results.json / results.md",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    s.add_argument("--budget", choices=sorted(BUDGETS), required=True)
    s.add_argument("--out", type=Path, required=True, help="results.json, results.md, runs/, logs/, checkpoints/")
    s.add_argument("--data", type=Path, default=ROOT / "data", help="folder with val/ and test/ (made there if missing)")
    s.add_argument("--pretrained", type=Path, action="append", default=[],
                   help="torchvision resnet18, resnet50, resnet101 or vgg11 ImageNet state_dict file; repeatable")
    s.add_argument("--torchvision-weights", action="store_true",
                   help="try torchvision's own ImageNet weights download (online only)")
    s.add_argument("--only", action="append", default=[], choices=[system.name for system in SYSTEMS],
                   metavar="SYSTEM", help="run only this system (repeatable)")
    s.add_argument("--part", type=part, metavar="K/N",
                   help="run only the K-th of N consecutive groups of rows of about equal estimated time (the "
                        "gpu budget's 2 parts take about 6 minutes each on one H100); with --only, both apply")
    s.add_argument("--rerun", action="store_true", help="run again systems already done at this budget")
    s.add_argument("--dry-run", action="store_true",
                   help="print the commands only, and at the gpu budget (or with --part) each row's steps, "
                        "estimated time a step and in all on one H100, and its part")
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=nonnegative_int, default=0)
    t = sub.add_parser("table", help="rewrite DIR/results.md from DIR/results.json")
    t.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("reader-mnist", help="a checkpoint's per-digit accuracy on MNIST test digits")
    r.add_argument("--checkpoint", type=Path, required=True)
    r.add_argument("--digits", type=int, default=10000)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", type=Path, required=True)
    return p


def cli(argv=None) -> int:
    try:
        a = parser().parse_args(argv)
        if a.command == "seeds":
            for path in a.pretrained:
                if not path.is_file():
                    raise DigitsumError(f"--pretrained {path}: no such file")
            return run_seeds(a)
        if a.command == "table":
            rewrite_table(a.out)
            print(f"wrote {a.out / 'results.md'}")
            return 0
        return read_mnist_digits(a)
    except DigitsumError as e:
        print("error: " + " ".join(str(e).splitlines()), file=sys.stderr)
        return 2
