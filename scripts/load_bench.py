"""Load benchmark of the app's public endpoint `/predict_json`, through gradio_client (a command,
not a test: its figures depend on the machine and on what else runs on it).

    .venv/bin/python scripts/load_bench.py [--users 20] [--requests 40] [--per-user 10] [--json OUT]

Starts `python app.py --checkpoints CHECKPOINTS --port P` in a temporary folder (its labels
database and cache inside it, unless --cache-dir names one to reuse), waits for "ready at" (and,
by default, for the app's background scoring of the test set with every checkpoint, so that it
does not share the CPU with the measurement; --cache-dir keeps those scores for the next run), then

1. one user sends --requests requests, one after another: p50/p90 latency and requests/s;
2. --users users (threads, each its own gradio_client.Client) send --per-user requests each, all
   at once: requests/s, p50/p90 latency, errors;

and prints a table, the ratio of the two throughputs, and the CPU time per request of the app (its
preprocessing workers included) and of this client (both on the same machine). The images are real
test images: course images (40x168) and the same images drawn 4x larger, black on white, so
preprocessing does its full work. Targets (issue 12): 20 users >= 3x one user's throughput with 0
errors; one user's p50 <= 125 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from bench_app import App, cpu_seconds, free_port   # scripts/bench_app.py, beside this one

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 3.0
TARGET_P50_MS = 125.0


class Clock:
    """The wall time and the CPU seconds of the app and of this client over the timed requests only
    (not the clients' connections or the warm-up: the first requests after a start cost several
    times a later one, ~160 ms of the app's CPU each, and once made up a third of the one-user figure)."""

    def __init__(self, app):
        self.app = app

    def start(self) -> None:
        self.server0, self.client0 = cpu_seconds(self.app.proc.pid), cpu_seconds()
        self.wall0 = time.perf_counter()

    def stop(self, figures_of) -> dict:
        """figures_of(wall seconds) -> the figures, with the CPU ms per request of the app and this client."""
        wall = time.perf_counter() - self.wall0
        server1, client1 = cpu_seconds(self.app.proc.pid), cpu_seconds()
        figures = figures_of(wall)
        n = max(figures["requests"], 1)
        figures["app_cpu_ms_per_request"] = None if self.server0 is None else round((server1 - self.server0) / n * 1000, 1)
        figures["client_cpu_ms_per_request"] = round((client1 - self.client0) / n * 1000, 1)
        return figures


def write_images(folder: Path, n: int, seed: int) -> list[tuple[Path, int]]:
    """n test images as PNGs (half course-size, half 4x larger black on white) -> [(path, true sum)]."""
    sys.path.insert(0, str(REPO))
    from PIL import Image

    from digitsum.data.synth import generate_dataset
    images, digits = generate_dataset("test", n, seed=seed)
    out = []
    for i, (image, d) in enumerate(zip(images, digits)):
        im = Image.fromarray(image)
        if i % 2:
            im = Image.fromarray(255 - image).resize((image.shape[1] * 4, image.shape[0] * 4), Image.BILINEAR)
        path = folder / f"test-{i}.png"
        im.save(path)
        out.append((path, int(d.sum())))
    return out


def checkpoint_names(specs) -> list[str]:
    sys.path.insert(0, str(REPO))
    from digitsum.app.checkpoints import discover_checkpoints
    return list(discover_checkpoints(specs))


def one_request(client, images, k: int, checkpoint: str):
    """-> (seconds, error text or None, right or None)."""
    from gradio_client import handle_file
    path, true_sum = images[k % len(images)]
    start = time.perf_counter()
    try:
        result = client.predict(handle_file(str(path)), checkpoint, api_name="/predict_json")
    except Exception as e:   # noqa: BLE001 - an error is a figure here
        return time.perf_counter() - start, f"{type(e).__name__}: {e}", None
    seconds = time.perf_counter() - start
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            pass
    if not isinstance(result, dict) or "sum" not in result:
        return seconds, f"unexpected answer: {str(result)[:200]}", None
    return seconds, None, result["sum"] == true_sum


class Tally:
    """The requests of a run as they end (from any thread): latencies, errors, right sums."""

    def __init__(self):
        self.latencies, self.errors, self.rights = [], [], []
        self.lock = threading.Lock()

    def add(self, seconds: float, error: str | None, right) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.rights.append(right)
            if error:
                self.errors.append(error)

    def summary(self, wall: float, users: int) -> dict:
        ms = np.array(self.latencies) * 1000
        done = len(self.latencies)
        return {
            "users": users, "requests": done, "errors": len(self.errors),
            "error_examples": sorted(set(self.errors))[:5],
            "seconds": round(wall, 3),
            "requests_per_second": round(done / wall, 2) if wall > 0 else None,
            "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p90_ms": round(float(np.percentile(ms, 90)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "mean_ms": round(float(ms.mean()), 1),
            "sums_right": int(sum(1 for r in self.rights if r)),
            "answered": int(sum(1 for r in self.rights if r is not None)),
        }


# ssl_verify=False: the app is plain http on 127.0.0.1, and with verification on, gradio_client builds
# a certificate store for each of its per-request httpx clients: ~40 ms of CPU each, ~200 ms per
# request in all, which on a small machine measures the client rather than the app


def run_one_user(clock, url, images, n, warmup, checkpoint) -> dict:
    from gradio_client import Client
    client = Client(url, verbose=False, ssl_verify=False)
    for k in range(warmup):
        one_request(client, images, k, checkpoint)
    tally = Tally()
    clock.start()
    for k in range(n):
        tally.add(*one_request(client, images, k, checkpoint))
    return clock.stop(lambda wall: tally.summary(wall, 1))


def run_many_users(clock, url, images, users, per_user, checkpoint) -> dict:
    from gradio_client import Client
    clients = [Client(url, verbose=False, ssl_verify=False) for _ in range(users)]   # connected before the clock starts
    tally = Tally()
    go = threading.Barrier(users + 1)

    def user(u):
        go.wait()
        for k in range(per_user):
            tally.add(*one_request(clients[u], images, u * per_user + k, checkpoint))
    threads = [threading.Thread(target=user, args=(u,), daemon=True) for u in range(users)]
    for t in threads:
        t.start()
    clock.start()
    go.wait()
    for t in threads:
        t.join()
    return clock.stop(lambda wall: tally.summary(wall, users))


def print_table(one: dict, many: dict, ratio: float):
    head = f"{'':<16}{'requests':>9}{'errors':>8}{'req/s':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'sums right':>12}"
    print(head)
    print("-" * len(head))
    for label, s in (("1 user", one), (f"{many['users']} users", many)):
        print(f"{label:<16}{s['requests']:>9}{s['errors']:>8}{s['requests_per_second']:>8.1f}{s['p50_ms']:>9.0f}"
              f"{s['p90_ms']:>9.0f}{s['p99_ms']:>9.0f}{s['sums_right']:>6}/{s['answered']:<5}")
    print(f"throughput ratio ({many['users']} users / 1 user): {ratio:.2f}x   (target >= {TARGET_RATIO:g}x, "
          f"0 errors: {'met' if ratio >= TARGET_RATIO and many['errors'] == 0 else 'NOT met'})")
    print(f"1 user p50: {one['p50_ms']:.0f} ms   (target <= {TARGET_P50_MS:g} ms: "
          f"{'met' if one['p50_ms'] <= TARGET_P50_MS else 'NOT met'})")
    for label, s in (("1 user", one), (f"{many['users']} users", many)):
        print(f"CPU per request, {label}: app {s['app_cpu_ms_per_request']} ms, this client "
              f"{s['client_cpu_ms_per_request']} ms")
    for s in (one, many):
        for e in s["error_examples"]:
            print(f"  error ({s['users']} users): {e}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--app", default=str(REPO / "app.py"), help="the app to start (default: the repo's app.py)")
    p.add_argument("--checkpoints", nargs="+", default=[str(REPO / "checkpoints")],
                   help="passed to the app's --checkpoints (default: the repo's checkpoints folder)")
    p.add_argument("--checkpoint", default="digitsum-reader", help="the checkpoint name each request asks for")
    p.add_argument("--port", type=int, default=0, help="the app's port (default: a free one)")
    p.add_argument("--requests", type=int, default=40, help="requests of the single user")
    p.add_argument("--users", type=int, default=20, help="concurrent users")
    p.add_argument("--per-user", type=int, default=10, help="requests of each concurrent user")
    p.add_argument("--warmup", type=int, default=5, help="untimed requests first")
    p.add_argument("--images", type=int, default=8, help="test images sent, in turn")
    p.add_argument("--seed", type=int, default=77, help="the test images' seed")
    p.add_argument("--cache-dir", help="the app's --cache-dir, to reuse (default: inside the temporary folder: "
                                       "the test set is built and scored afresh)")
    p.add_argument("--preprocess-workers", type=int,
                   help="the app's --preprocess-workers (default: the app's own default; 0: none, for an A/B)")
    p.add_argument("--torch-threads", type=int,
                   help="the app's --torch-threads (default: the app's own default, 1)")
    p.add_argument("--ready-timeout", type=float, default=600, help="s to wait for the app's 'ready at'")
    p.add_argument("--scoring-timeout", type=float, default=900,
                   help="s to wait for the app's background scoring of every checkpoint to finish before measuring "
                        "(0: do not wait)")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--verbose", action="store_true", help="echo the app's output")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"]))
    port = args.port or free_port()
    with tempfile.TemporaryDirectory(prefix="digitsum-bench-") as tmp:
        workdir = Path(tmp)
        images = write_images(workdir, args.images, args.seed)
        load_before = os.getloadavg()
        started = time.perf_counter()
        app = App(args, workdir, port)
        try:
            ready = app.wait_for(r"ready at", args.ready_timeout)
            if ready is None:
                print("error: the app did not print 'ready at' in time; its last lines:", file=sys.stderr)
                print("\n".join(app.lines[-30:]), file=sys.stderr)
                return 2
            ready_s = time.perf_counter() - started
            print(f"app ready in {ready_s:.1f} s: {ready}", flush=True)
            scored = wait_for_scoring(app, args) if args.scoring_timeout > 0 else None
            url = f"http://127.0.0.1:{port}/"
            one = run_one_user(Clock(app), url, images, args.requests, args.warmup, args.checkpoint)
            many = run_many_users(Clock(app), url, images, args.users, args.per_user, args.checkpoint)
        finally:
            app.stop()
        load_after = os.getloadavg()
    ratio = many["requests_per_second"] / one["requests_per_second"]
    print()
    print_table(one, many, ratio)
    print(f"conditions: {os.cpu_count()} CPUs, load average {load_before[0]:.1f} before / {load_after[0]:.1f} after "
          f"(other processes count), torch threads "
          f"{'default' if args.torch_threads is None else args.torch_threads}, preprocessing workers "
          f"{'default' if args.preprocess_workers is None else args.preprocess_workers}, checkpoint {args.checkpoint}")
    if args.json:
        write_figures(args, one, many, ratio, (load_before, load_after), ready_s, scored is not None)
    return 0


def wait_for_scoring(app, args) -> str | None:
    """Wait for the app's background scoring with every checkpoint (so that none shares the CPU with
    the measurement), at most --scoring-timeout s in all -> the last 'scored' line, None if the app
    was not idle in time. The app prints 'scored NAME in' twice per checkpoint on a cold cache (its
    first slice, then the whole set), so the lines alone do not say it is done: after them, the app
    must also be idle (under 5% of a core for IDLE_WINDOW s)."""
    scored = None
    deadline = time.monotonic() + args.scoring_timeout
    for name in checkpoint_names(args.checkpoints):
        scored = app.wait_for(rf"scored {re.escape(name)} in ", max(deadline - time.monotonic(), 0))
        if scored is None:
            print(f"background scoring: {name}: not seen (measuring anyway, while it may run)", flush=True)
            return None
    waited = wait_for_idle(app.proc.pid, deadline)
    if waited is None:
        print("background scoring: the app was still busy at --scoring-timeout (measuring anyway)", flush=True)
        return None
    print(f"background scoring: done, the app idle ({waited:.0f} s after the first slices were scored)", flush=True)
    return scored


IDLE_WINDOW = 2.0   # s


def wait_for_idle(pid: int, deadline: float, share: float = 0.05) -> float | None:
    """Wait until process `pid` spends under `share` of a core over IDLE_WINDOW s -> the seconds
    waited; None at `deadline` (time.monotonic()) or where its CPU time cannot be read."""
    start = time.monotonic()
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(IDLE_WINDOW)
        after = cpu_seconds(pid)
        if before is None or after is None:
            return None
        if after - before < share * IDLE_WINDOW:
            return time.monotonic() - start
    return None


def repo_relative(path) -> str:
    """`path` relative to the repository when it is inside it (the record is anyone's clone's)."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def write_figures(args, one: dict, many: dict, ratio: float, loads: tuple, ready_s: float, scored: bool) -> None:
    """The figures, the targets and the conditions of the run, as JSON in --json."""
    figures = {
        "one_user": one, "many_users": many, "throughput_ratio": round(ratio, 2),
        "targets": {"ratio": TARGET_RATIO, "p50_ms": TARGET_P50_MS,
                    "ratio_met": ratio >= TARGET_RATIO and many["errors"] == 0,
                    "p50_met": one["p50_ms"] <= TARGET_P50_MS},
        "conditions": {"cpus": os.cpu_count(), "load_average_before": loads[0], "load_average_after": loads[1],
                       "torch_threads": args.torch_threads, "preprocess_workers": args.preprocess_workers,
                       "machine": platform.platform(),
                       "python": platform.python_version(), "checkpoint": args.checkpoint,
                       "app": repo_relative(args.app), "images": args.images, "ready_seconds": round(ready_s, 1),
                       "scoring_done_before_measuring": scored,
                       "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures written to {args.json}")


if __name__ == "__main__":
    sys.exit(main())
