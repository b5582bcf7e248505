"""The committed records (results/ and the shipped checkpoints' cards and metrics) name paths relative
to the repository, so that anyone's clone can rerun their commands: no developer's checkout folder,
no temporary folder."""
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# a path that starts at the file system's root: "/" right after the start, a space, a quote, "=", "(" or
# a backtick, then a folder name and another "/" (URLs have "//" after their scheme and do not match)
ABSOLUTE = re.compile(r"(?:^|[\s\"'(=`])(/[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]*)")
WINDOWS = re.compile(r"\b[A-Za-z]:\\[A-Za-z0-9_.-]+")


def record_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "results", "checkpoints"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    return [ROOT / f for f in listed if Path(f).suffix in {".json", ".jsonl", ".md", ".txt", ".csv"}]


def absolute_paths(text: str) -> list[str]:
    return ABSOLUTE.findall(text) + WINDOWS.findall(text)


def test_the_path_finder_finds_what_it_should_and_nothing_else():
    assert absolute_paths('"log": "/work/main/runs/x.log", --val /home/me/data') == ["/work/main/runs/x.log", "/home/me/data"]
    assert absolute_paths(r"saved to C:\Users\me") == [r"C:\Users"]
    assert absolute_paths("see https://huggingface.co/docs/hub and runs/seeds-gpu/logs, 20 / 3 / 4") == []


def test_records_hold_no_machine_absolute_paths():
    files = record_files()
    if not files:
        pytest.skip("not a git checkout: the records cannot be listed")
    found = {str(f.relative_to(ROOT)): absolute_paths(f.read_text(errors="replace")) for f in files}
    assert {f: paths[:3] for f, paths in found.items() if paths} == {}
