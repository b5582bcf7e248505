"""`python -m train.recipe NAME`: a shipped checkpoint's whole training as one command.

The default reader is trained in stages, each from the previous stage's export (`--init`): a
long run on MNIST and font digits from scratch, then shorter ones that add other writers' shapes,
letters and scribbles, a page's edge and stacked pairs, each at a lower rate so that it keeps what
the stage before learned. A recipe is that list of `python -m train` commands. This module runs
them in order, in-process, with the same flags as the README's stage-by-stage commands; the flags
after the recipe's own (device, threads, --val/--test, ...) go to every stage.

    python -m train.recipe digitsum-reader --out runs/recipe --export checkpoints/digitsum-reader \\
        --val data/val --test data/test --threads 1
    python -m train.recipe digitsum-reader --dry-run      # the stages' commands, nothing run
"""
from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from digitsum.errors import DigitsumError
from digitsum.flags import OneLineParser


@dataclass(frozen=True)
class Stage:
    name: str          # the stage's folder under --out
    flags: tuple       # its training flags: data mix, schedule, seed (not device, data sets or folders)


_WRITERS = ("--font-digits", "0.1", "--pen-digits", "0.03", "--style-digits", "0.1")
READER = (
    # from scratch: 90 % MNIST train digits, 10 % printed digits of matplotlib's fonts
    Stage("1-fonts", ("--font-digits", "0.1", "--steps", "7000", "--batch-size", "128", "--lr", "2e-3",
                      "--eval-every", "1000", "--seed", "0")),
    # other writers' shapes: 5 % pendigits pen trajectories, 15 % synthesized pen styles
    Stage("2-writers", ("--font-digits", "0.1", "--pen-digits", "0.05", "--style-digits", "0.15", "--lr", "1e-3",
                        "--warmup-steps", "100", "--steps", "3000", "--eval-every", "1000", "--seed", "1")),
    # back towards MNIST's share at a lower rate
    Stage("3-writers2", (*_WRITERS, "--lr", "3e-4", "--warmup-steps", "50", "--steps", "1000",
                         "--eval-every", "500", "--seed", "2")),
    # letters and scribbles beside a third of the rows: the four-digit check learns to find no digit there
    Stage("4-distractors", ("--augment", "wide_distractors", *_WRITERS, "--lr", "3e-4", "--warmup-steps", "50",
                            "--steps", "1500", "--eval-every", "500", "--seed", "4")),
    # a page's edge beside a fifth of the rows, and neighbouring pairs written one above the other
    Stage("5-page-stacked", ("--layout", "wide_stacked", "--augment", "wide_page", *_WRITERS, "--lr", "3e-4",
                             "--warmup-steps", "50", "--steps", "2000", "--eval-every", "500", "--seed", "9")),
)
RECIPES = {"digitsum-reader": READER}


def stage_commands(stages, out: Path, export: Path | None, extra: list[str]) -> list[list[str]]:
    """-> each stage's `python -m train` arguments: synthetic data only, its own folder under OUT,
    started from the previous stage's export; the last stage exports to EXPORT as well."""
    commands, previous = [], None
    for i, stage in enumerate(stages):
        folder = out / stage.name
        last = i == len(stages) - 1
        target = export if (last and export is not None) else folder / "export"
        init = ["--init", str(previous)] if previous is not None else []
        commands.append(["--synthetic-fraction", "1", *stage.flags, *init, "--out", str(folder),
                         "--export", str(target), *extra])
        previous = target
    return commands


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m train.recipe", description="Train a shipped checkpoint from scratch: "
                      "its stages' python -m train commands, in order, each from the last one's export.",
                      epilog="Every other flag (--device, --threads, --val, --test, --overwrite, ...) is passed "
                      "to every stage; see python -m train --help.")
    p.add_argument("recipe", choices=sorted(RECIPES))
    p.add_argument("--out", type=Path, default=Path("runs/recipe"), help="the stages' run folders go under it")
    p.add_argument("--export", type=Path, help="also write the last stage's checkpoint here")
    p.add_argument("--from-stage", type=int, default=1, metavar="K",
                   help="start at stage K (1-based): the stages before it are already in --out")
    p.add_argument("--resume", action="store_true", help="continue stage K's run (killed) from its last save")
    p.add_argument("--dry-run", action="store_true", help="print the stages' commands and run nothing")
    return p


def cli(argv=None) -> int:
    from .main import cli as train_cli
    p = parser()
    try:
        args, extra = p.parse_known_args(list(sys.argv[1:] if argv is None else argv))
        stages = RECIPES[args.recipe]
        if not 1 <= args.from_stage <= len(stages):
            raise DigitsumError(f"--from-stage: {args.recipe} has stages 1 to {len(stages)}, not {args.from_stage}")
        commands = stage_commands(stages, args.out, args.export, extra)
        if args.from_stage > 1 and not args.dry_run:   # its --init must be there, or the stage would fail after loading its data
            init = Path(commands[args.from_stage - 1][commands[args.from_stage - 1].index("--init") + 1])
            if not (init / "config.json").is_file():
                raise DigitsumError(f"--from-stage {args.from_stage}: stage {args.from_stage - 1}'s checkpoint "
                                    f"{init} is missing; run the stages before it first")
    except DigitsumError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for k, command in enumerate(commands, 1):
        if k < args.from_stage:
            continue
        if args.resume and k == args.from_stage:
            command = [*command, "--resume"]
        print(f"stage {k}/{len(commands)} ({stages[k - 1].name}): python -m train "
              + " ".join(shlex.quote(a) for a in command), file=sys.stderr, flush=True)
        if args.dry_run:
            continue
        code = train_cli(command)
        if code != 0:
            print(f"error: stage {k} ({stages[k - 1].name}) failed; after fixing the cause, continue with "
                  f"--from-stage {k} (and --resume to keep its saved steps)", file=sys.stderr)
            return code
    return 0


if __name__ == "__main__":
    sys.exit(cli())
