"""digitsum app: draw or upload four digits, compare checkpoints, browse errors, label data.

    python app.py [--checkpoints DIR_OR_hf://OWNER/NAME ...] [--data DIR] [--labels-db PATH] [--exports-dir DIR]
                  [--label-data DIR] [--host H] [--port P]

This file parses the flags, makes the service (digitsum.service.DigitsumService, which does all the
work) and launches the UI (digitsum.ui, one module per tab). Only one event is an API endpoint
(`/predict_json`); every UI handler is private.
"""
from __future__ import annotations

import time

STARTED = time.perf_counter()   # before the imports: gradio and torch take seconds to load

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from digitsum.errors import DigitsumError  # noqa: E402
from digitsum.service import DigitsumService  # noqa: E402
from digitsum.ui import CSS, BodyLimit, build  # noqa: E402

MAX_UPLOAD = "50mb"     # larger uploads are refused by Gradio before any handler runs


def launch(demo, host: str = "127.0.0.1", port: int = 7860):
    """Start serving without blocking (the queue as build() set it); uploads over MAX_UPLOAD are
    refused by Gradio itself, other request bodies over digitsum.ui.common.MAX_BODY by BodyLimit."""
    from starlette.middleware import Middleware
    demo.launch(server_name=host, server_port=port, prevent_thread_lock=True, quiet=True,
                max_file_size=MAX_UPLOAD, css=CSS, app_kwargs={"middleware": [Middleware(BodyLimit)]})
    return demo


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="digitsum app")
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
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    print(f"digitsum app: torch and gradio loaded in {time.perf_counter() - STARTED:.1f} s; loading the checkpoints "
          "and the test set (a first start builds the test set once, a few seconds)", flush=True)
    try:
        service = DigitsumService(args.checkpoints, args.data, args.labels_db, args.cache_dir, args.exports_dir,
                                  args.label_data)
        demo = build(service)
    except DigitsumError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    service.warm_up()
    launch(demo, args.host, args.port)
    print(f"digitsum app ready at http://{args.host}:{args.port} in {time.perf_counter() - STARTED:.1f} s "
          "since the process started", flush=True)
    demo.block_thread()
    return 0


if __name__ == "__main__":
    sys.exit(main())
