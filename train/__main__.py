"""`python -m train [--task sums|mnist] ...`: four-digit sums (the default) or single MNIST digits."""
import sys


def _split_task(argv: list[str]) -> tuple[str | None, list[str]]:
    """Take `--task X` / `--task=X` out of argv: -> (X or None when absent or valueless, the rest)."""
    rest, task = [], "sums"
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--task":
            if i + 1 >= len(argv):
                return None, rest
            task, i = argv[i + 1], i + 2
            continue
        if arg.startswith("--task="):
            task = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return task, rest


def run(argv=None) -> int:
    task, rest = _split_task(list(sys.argv[1:] if argv is None else argv))
    if task == "mnist":
        from .mnist_task import cli as mnist_cli
        return mnist_cli(rest)
    if task != "sums":
        shown = "nothing" if task is None else repr(task)
        print(f"error: --task must be sums (the default) or mnist, not {shown}", file=sys.stderr)
        return 2
    from .main import cli
    return cli(rest)


if __name__ == "__main__":
    sys.exit(run())
