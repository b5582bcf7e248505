"""`python -m train [--task sums|mnist] ...`: four-digit sums (the default) or single MNIST digits."""
import sys

from digitsum.errors import DigitsumError
from digitsum.flags import OneLineParser

TASKS = ("sums", "mnist")


def task_parser() -> OneLineParser:
    """Reads --task alone and leaves every other flag, -h included, to the chosen task's own parser
    (no help of its own; no abbreviations, which could take a task's flag for --task)."""
    p = OneLineParser(prog="python -m train", add_help=False, allow_abbrev=False)
    p.add_argument("--task", choices=TASKS, default="sums")
    return p


def run(argv=None) -> int:
    try:
        chosen, rest = task_parser().parse_known_args(list(sys.argv[1:] if argv is None else argv))
    except DigitsumError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if chosen.task == "mnist":
        from .mnist_task import cli as mnist_cli
        return mnist_cli(rest)
    from .main import cli
    return cli(rest)


if __name__ == "__main__":
    sys.exit(run())
