"""Hostile command lines for `python app.py`: checkpoints, folders and addresses it cannot use are
refused before it serves or loads anything, in one `error:` line on stderr with exit code 2 and no
traceback (it was Gradio's traceback, then SIGABRT, rc 134)."""
from pathlib import Path

import pytest

from hostile_runs import a_file, assert_one_error_line

# the app's other inputs: a small set (none built), its own cache and labels in the test's folder
APP = ["--data", "{course}", "--label-data", "{course}", "--cache-dir", "{tmp}/cache", "--labels-db", "{tmp}/labels.db"]


# ---------------------------------------------------------------- set-ups: (tmp_path, monkeypatch) -> None
def no_serving(tmp, mp):
    """app.py must refuse before it serves: a launch (or the warm-up's background download) fails."""
    import app
    from digitsum.app.service import DigitsumService

    def launched(*args, **kwargs):
        raise AssertionError("the app started serving")
    mp.setattr(app, "launch", launched)
    mp.setattr(DigitsumService, "warm_up", launched)


def a_file_and_no_serving(tmp, mp):
    a_file(tmp, mp)
    no_serving(tmp, mp)


def case(id, setup, argv, message):
    return pytest.param(setup, argv, message, id=id)


CASES = [
    # app.py: checkpoints and folders, refused before it serves
    case("app-checkpoints-nonexistent", no_serving, ["app", "--checkpoints", "/nonexistent", *APP],
     "error: /nonexistent: no such checkpoint folder"),
    case("app-checkpoints-mistyped-folder", no_serving, ["app", "--checkpoints", "chekpoints/digitsum-reader", *APP],
     "error: chekpoints/digitsum-reader: no such checkpoint folder (a checkpoint on the Hugging Face Hub is "
     "written hf://chekpoints/digitsum-reader)"),
    case("app-checkpoints-under-an-existing-folder", no_serving, ["app", "--checkpoints", "{tmp}/digitsum-readr", *APP],
     "error: {tmp}/digitsum-readr: no such checkpoint folder"),
    case("app-checkpoints-relative", no_serving, ["app", "--checkpoints", "./nope", *APP],
     "error: ./nope: no such checkpoint folder"),
    case("app-checkpoints-a-file", a_file_and_no_serving, ["app", "--checkpoints", "{tmp}/afile", *APP],
     "error: {tmp}/afile: a file, not a checkpoint folder"),
    case("app-hub-id-not-owner-name", no_serving, ["app", "--checkpoints", "hf://a/b/c", *APP],
     "error: 'hf://a/b/c': a Hugging Face Hub checkpoint is written hf://owner/name"),
    # app.py: an address it cannot listen on, refused before anything is loaded (was a traceback, then SIGABRT)
    case("app-port-99999", no_serving, ["app", "--checkpoints", "{ckpt}", *APP, "--port", "99999"],
     "error: --port 99999: a port is a number from 1 to 65535"),
    case("app-port-0", no_serving, ["app", "--checkpoints", "{ckpt}", *APP, "--port", "0"],
     "error: --port 0: a port is a number from 1 to 65535"),
    case("app-port-in-use", no_serving, ["app", "--checkpoints", "{ckpt}", *APP, "--port", "{busy}"],
     "error: --port {busy}: another program listens on 127.0.0.1:{busy} already; stop it, or choose another --port"),
    # app.py's numbers: one line each, as every other refusal (a bad number printed argparse's usage block)
    case("app-port-not-a-number", no_serving, ["app", "--checkpoints", "{ckpt}", *APP, "--port", "abc"],
     "error: argument --port: invalid int value: 'abc'"),
    case("app-preprocess-workers-negative", no_serving, ["app", "--checkpoints", "{ckpt}", *APP,
                                                         "--preprocess-workers", "-1"],
     "error: argument --preprocess-workers: must be non-negative, not -1"),
    case("app-preprocess-workers-too-many", no_serving, ["app", "--checkpoints", "{ckpt}", *APP,
                                                         "--preprocess-workers", "1000"],
     "error: --preprocess-workers 1000: at most 64"),
    case("app-torch-threads-zero", no_serving, ["app", "--checkpoints", "{ckpt}", *APP, "--torch-threads", "0"],
     "error: argument --torch-threads: must be positive, not 0"),
    case("app-host-not-of-this-machine", no_serving, ["app", "--checkpoints", "{ckpt}", *APP, "--host", "192.0.2.1"],
     "error: --host '192.0.2.1': not an address of this machine"),
    case("app-host-unknown", no_serving, ["app", "--checkpoints", "{ckpt}", *APP, "--host", "no-such-host.invalid"],
     "error: --host 'no-such-host.invalid': not a name or address of this machine"),
    case("app-exports-dir-is-a-file", a_file_and_no_serving,
     ["app", "--checkpoints", "{ckpt}", "--exports-dir", "{tmp}/afile", *APP],
     "error: {tmp}/afile (the exports folder): it is a file, not a folder"),
    case("app-exports-dir-under-a-file", a_file_and_no_serving,
     ["app", "--checkpoints", "{ckpt}", "--exports-dir", "{tmp}/afile/exports", *APP],
     "error: {tmp}/afile/exports (the exports folder): {tmp}/afile is a file, not a folder"),
]


@pytest.fixture
def busy_port():
    """A port another program listens on (127.0.0.1), for as long as the test runs."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.mark.parametrize("setup,argv,message", CASES)
def test_a_bad_command_line_gets_one_error_line_and_changes_nothing(setup, argv, message, tmp_path, monkeypatch,
                                                                     capsys, request, course_set, tiny_checkpoint):
    import app
    setup(tmp_path, monkeypatch)
    places = dict(tmp=tmp_path, course=course_set, ckpt=tiny_checkpoint)
    if any("{busy}" in a for a in argv):
        places["busy"] = request.getfixturevalue("busy_port")
    capsys.readouterr()
    code = app.main([a.format(**places) for a in argv[1:]])
    assert_one_error_line(code, capsys.readouterr().err, message.format(**places))
    assert not (tmp_path / "new").exists()   # refused before anything was written


# ---------------------------------------------------------------- app.py where it cannot listen, as a process
@pytest.mark.slow
@pytest.mark.parametrize("flags,message", [
    (["--port", "99999"], "error: --port 99999: a port is a number from 1 to 65535"),
    (["--port", "{busy}"], "error: --port {busy}: another program listens on 127.0.0.1:{busy} already"),
    (["--host", "192.0.2.1"], "error: --host '192.0.2.1': not an address of this machine"),
], ids=["port-99999", "port-in-use", "host-not-of-this-machine"])
def test_the_app_where_it_cannot_listen_exits_with_one_line(flags, message, busy_port, tiny_checkpoint, course_set,
                                                             tmp_path):
    """`python app.py` itself: one line and exit 2 (it was Gradio's traceback, then SIGABRT, rc 134)."""
    import os
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    flags = [f.format(busy=busy_port) for f in flags]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(root / "app.py"), "--checkpoints", str(tiny_checkpoint),
                           *[a.format(course=course_set, tmp=tmp_path) for a in APP], *flags],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(message.format(busy=busy_port)), proc.stderr[-2000:]
    assert "ready at" not in proc.stdout
    assert not (tmp_path / "labels.db").exists()    # refused before anything was loaded or made


def test_an_address_taken_after_the_check_is_one_line_too(monkeypatch, busy_port, tiny_checkpoint, course_set,
                                                          tmp_path, capsys):
    """The address taken between the check and Gradio's start (a race): still one line, exit 2,
    and the warm-up thread never started (its torch threads made the interpreter abort at exit)."""
    import app
    from digitsum.app.service import DigitsumService
    monkeypatch.setattr(app, "check_address", lambda host, port: None, raising=False)
    warmed = []
    monkeypatch.setattr(DigitsumService, "warm_up", lambda self: warmed.append(self))
    monkeypatch.chdir(tmp_path)
    code = app.main(["--checkpoints", str(tiny_checkpoint), *[a.format(course=course_set, tmp=tmp_path) for a in APP],
                     "--port", str(busy_port)])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --host 127.0.0.1 --port {busy_port}: the app could not "
                                                   "start serving there"), err
    assert not warmed
