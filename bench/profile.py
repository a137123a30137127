"""Profile one endpoint of the application under load with py-spy.

    .venv/bin/python bench/profile.py '/tiles/enterprises/14/13000/7000.pbf' --seconds 15
    .venv/bin/python bench/profile.py --etag '/tiles/…'      # the 304 path

Starts the application under gunicorn (1 worker, 4 threads) against the
benchmark database, drives it with wrk (4 connections), records the worker
with py-spy (installed in ``bench/.venv-tools``) and prints the functions with
the most samples (inclusive and own), plus the rate wrk saw.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import time
import urllib.request

from common import HERE, OUT, bench_database
from run import free_port, start_app, stop, wait_http, workers_of, wrk

PYSPY = HERE / ".venv-tools" / "bin" / "py-spy"


def ensure_pyspy() -> None:
    if not PYSPY.exists():
        subprocess.run([sys.executable, "-m", "venv", str(HERE / ".venv-tools")], check=True)
        subprocess.run([str(HERE / ".venv-tools" / "bin" / "pip"), "install", "-q", "py-spy"], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--etag", action="store_true", help="send the ETag of a first answer (If-None-Match)")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--bust", action="store_true", help="a new URL each request (no cache answers)")
    args = ap.parse_args()
    ensure_pyspy()
    OUT.mkdir(exist_ok=True)
    with bench_database(create=False) as bdb:
        port = free_port()
        app = start_app(bdb.app_url, port, workers=1)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(base + "/api/")
            paths = args.paths
            headers = {}
            if args.etag:
                with urllib.request.urlopen(base + paths[0]) as r:
                    headers["If-None-Match"] = r.headers["ETag"]
            worker = workers_of(app.pid)[0]
            raw = OUT / "profile.txt"
            spy = subprocess.Popen([str(PYSPY), "record", "-p", str(worker), "-d", str(args.seconds), "-r", "200",
                                    "-f", "raw", "-o", str(raw), "--nonblocking"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
            res = wrk(base, paths, connections=4, seconds=args.seconds - 2, headers=headers, bust=args.bust)
            spy.wait(60)
        finally:
            stop(app)
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        m = re.match(r"^(.*) (\d+)$", line)
        if not m or "handle_request" not in m.group(1):
            continue  # idle threads, the arbiter
        stack, n = m.group(1), int(m.group(2))
        frames = stack.split(";")
        total += n
        for f in set(frames):
            inclusive[f] += n
        own[frames[-1]] += n
    print(f"wrk: {res['rps']:.0f} req/s, p50 {res['p50_us'] / 1000:.1f} ms, p95 {res['p95_us'] / 1000:.1f} ms, "
          f"errors {res['errors']}; {total} busy samples")
    print("\ninclusive:")
    for f, n in inclusive.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {f}")
    print("\nown:")
    for f, n in own.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {f}")


if __name__ == "__main__":
    main()
