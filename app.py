"""digitsum app: draw or upload four digits, compare checkpoints, browse errors, label data.

    python app.py [--checkpoints DIR_OR_hf://OWNER/NAME ...] [--data DIR] [--labels-db PATH] [--exports-dir DIR]
                  [--label-data DIR] [--host H] [--port P] [--preprocess-workers N] [--torch-threads N]

This file parses the flags, makes the service (digitsum.app.service.DigitsumService: all the work,
done by its parts in digitsum/app/) and launches the UI (digitsum.ui, one module per tab). Only one
event is an API endpoint (`/predict_json`); every UI handler is private.
"""
from __future__ import annotations

import time

STARTED = time.perf_counter()   # before the imports: gradio and torch take seconds to load

import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from digitsum.errors import DigitsumError  # noqa: E402
from digitsum.flags import OneLineParser, nonnegative_int, positive_int  # noqa: E402

# torch and gradio are imported in main(), not here: each preprocessing worker process (spawned,
# see digitsum.reading.preprocess_pool) imports this file again, and needs neither.

MAX_UPLOAD = "50mb"     # larger uploads are refused by Gradio before any handler runs


def launch(demo, host: str = "127.0.0.1", port: int = 7860):
    """Start serving without blocking (the queue as build() set it); uploads over MAX_UPLOAD are
    refused by Gradio itself, other request bodies over digitsum.ui.common.MAX_BODY by BodyLimit.
    No /monitoring page (its summary cost every event CPU: see digitsum/ui/__init__.py)."""
    from starlette.middleware import Middleware

    from digitsum.ui.common import CSS, BodyLimit
    demo.launch(server_name=host, server_port=port, prevent_thread_lock=True, quiet=True,
                max_file_size=MAX_UPLOAD, css=CSS, enable_monitoring=False,
                app_kwargs={"middleware": [Middleware(BodyLimit)]})
    return demo


def parse_args(argv=None):
    p = OneLineParser(description="digitsum app")
    p.add_argument("--checkpoints", nargs="+", default=["checkpoints"],
                   help="checkpoint folders, folders of them, or Hugging Face Hub repos written hf://owner/name")
    p.add_argument("--data", type=Path, help="a course-format set to browse and label (default: MNIST-test course set)")
    p.add_argument("--labels-db", type=Path, default=Path("labels.db"))
    p.add_argument("--cache-dir", type=Path, default=Path(".cache/digitsum"))
    p.add_argument("--label-data", type=Path,
                   help="a course-format set for the Label tab's queue (default: its own pool of MNIST-train "
                        "course images, apart from every test set)")
    p.add_argument("--exports-dir", type=Path, default=Path("exports"),
                   help="the Label tab exports only into folders directly inside this one (default: ./exports)")
    # a Hugging Face Space sets GRADIO_SERVER_NAME=0.0.0.0 and the port; elsewhere the app stays local
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--preprocess-workers", type=nonnegative_int, default=min(2, os.cpu_count() or 1),
                   help="processes that preprocess images, so that concurrent users are served on several cores "
                        "(default: 2, or the number of cores if fewer; 0: in the server's own threads)")
    p.add_argument("--torch-threads", type=positive_int, default=1,
                   help="threads of each forward pass (default 1: a request's forward pass is small, and with "
                        "several users at once a second thread cost more in waiting than it saved)")
    args = p.parse_args(argv)
    if args.preprocess_workers > 64:
        raise DigitsumError(f"--preprocess-workers {args.preprocess_workers}: at most 64 (one or two a core)")
    if args.torch_threads > 256:
        raise DigitsumError(f"--torch-threads {args.torch_threads}: at most 256")
    return args


def check_address(host: str, port: int) -> None:
    """The app can listen on host:port, or a one-line DigitsumError saying why not: checked before
    anything is loaded (Gradio's own check came after it, with a traceback and then SIGABRT)."""
    import errno
    import socket
    from digitsum.errors import shorten
    if not 1 <= port <= 65535:
        raise DigitsumError(f"--port {port}: a port is a number from 1 to 65535 (the app's default is 7860)")
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host   # [::1] as in a URL
    try:
        family, kind, proto, _, address = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except (OSError, UnicodeError, ValueError) as e:
        raise DigitsumError(f"--host {shorten(host, quote=True)}: not a name or address of this machine "
                            f"({getattr(e, 'strerror', None) or e}); use 127.0.0.1 (this machine only) or "
                            "0.0.0.0 (every network)") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as the server's own socket
        try:
            probe.bind(address)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise DigitsumError(f"--port {port}: another program listens on {host}:{port} already; "
                                    "stop it, or choose another --port") from None
            if e.errno == errno.EADDRNOTAVAIL:
                raise DigitsumError(f"--host {shorten(host, quote=True)}: not an address of this machine; use "
                                    "127.0.0.1 (this machine only) or 0.0.0.0 (every network)") from None
            if e.errno == errno.EACCES:
                raise DigitsumError(f"--port {port}: only the administrator may listen on it; choose a port from "
                                    "1024 up") from None
            raise DigitsumError(f"--host {shorten(host, quote=True)} --port {port}: cannot listen there "
                                f"({e.strerror or e})") from None


def main(argv=None):
    try:
        args = parse_args(argv)
    except DigitsumError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    import torch

    from digitsum.app.service import DigitsumService
    from digitsum.ui import build, warm_up_events
    torch.set_num_threads(args.torch_threads)
    print(f"digitsum app: torch and gradio loaded in {time.perf_counter() - STARTED:.1f} s; loading the checkpoints "
          "and the test set (a first start builds the test set once, a few seconds)", flush=True)
    try:
        check_address(args.host, args.port)
        service = DigitsumService(args.checkpoints, args.data, args.labels_db, args.cache_dir, args.exports_dir,
                                  args.label_data, args.preprocess_workers)
        demo = build(service)
    except DigitsumError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:   # before the warm-up starts its thread: a failed start then leaves nothing running
        launch(demo, args.host, args.port)
    except Exception as e:   # the address was taken since check_address (or Gradio's own check failed)
        print(f"error: --host {args.host} --port {args.port}: the app could not start serving there "
              f"({type(e).__name__}: {' '.join(str(e).split())[:200]})", file=sys.stderr)
        return 2
    service.warm_up()
    warm_up_events()
    print(f"digitsum app ready at http://{args.host}:{args.port} in {time.perf_counter() - STARTED:.1f} s "
          "since the process started", flush=True)
    demo.block_thread()
    return 0


if __name__ == "__main__":
    sys.exit(main())
