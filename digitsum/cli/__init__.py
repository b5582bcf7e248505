"""`python -m digitsum {make-dataset,evaluate,robustness,benchmark-model,refusal,benchmark-synth,fetch-hand-fonts}`:
one-line errors, no tracebacks.

parser.py reads the command line and checks what argparse cannot (folders, the device); the
commands themselves are in data_commands, evaluation_commands and benchmark_commands."""
from __future__ import annotations

import sys

from digitsum.cli.parser import build_parser, check_folders_and_device
from digitsum.errors import DigitsumError


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        check_folders_and_device(args)
        return args.func(args)
    except (DigitsumError, ValueError) as e:  # ValueError: e.g. a canvas too small for the chosen layout
        print("error: " + " ".join(str(e).splitlines()), file=sys.stderr)
        return 2
