#!/usr/bin/env python3
"""Batch throughput and memory: 1 vs N workers, Dask LocalCluster vs local pool, peak RSS vs frame count.

Usage: python scripts/bench_batch.py [--frames 8] [--size 2048] [--workers 2] [--rss 50 500] [--no-dask]

Frames are generated once into a temp folder (synthetic BGA, --size square) and
reused; the RSS runs repeat those frames through links. Prints a markdown table.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def peak_rss_mb(cmd):
    """Run cmd; peak RSS (MB) of it and its children (psutil sampling if present, else getrusage)."""
    t0 = time.perf_counter()
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is None:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_maxrss / 1024, time.perf_counter() - t0, "getrusage (max single process)"
    p = psutil.Popen(cmd, stdout=subprocess.DEVNULL)
    peak = 0
    while p.poll() is None:
        try:
            procs = [p, *p.children(recursive=True)]
            peak = max(peak, sum(q.memory_info().rss for q in procs if q.is_running()))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
        time.sleep(0.05)
    if p.returncode not in (0, 1, 3):
        raise SystemExit(f"{cmd} failed with {p.returncode}")
    return peak / 2**20, time.perf_counter() - t0, "psutil (sum over processes)"


def score_cmd(inp, out, workers, extra=()):
    return [sys.executable, "-m", "xrayinspect", "score", str(inp), "--out", str(out), "--workers", str(workers),
            "--quiet", "--force", "--no-report", *extra]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=8, help="frames for the throughput runs")
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rss", type=int, nargs="*", default=[20, 60], help="frame counts for the peak RSS runs")
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--keep", default=None, help="generate frames here (reused if present)")
    a = ap.parse_args()

    from xrayinspect.synth import write_set

    tmp = Path(a.keep or tempfile.mkdtemp(prefix="xi-bench-"))
    src = tmp / f"frames_{a.size}"
    if not src.exists():
        t = time.perf_counter()
        write_set(src, a.frames, 0, package="bga", shape=(a.size, a.size))
        print(f"generated {a.frames} frames of {a.size}x{a.size} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    frames = sorted(p for p in src.iterdir() if p.suffix in (".tif", ".png", ".jpg"))[: a.frames]

    def linked(n):
        d = tmp / f"linked_{n}"
        if not d.exists():
            d.mkdir()
            for i in range(n):
                f = frames[i % len(frames)]
                os.symlink(f.resolve(), d / f"f{i:05d}{f.suffix}")
        return d

    rows = []
    inp = linked(len(frames))
    runs = [("local, 1 worker", 1, ()), (f"local pool, {a.workers} workers", a.workers, ())]
    if not a.no_dask:
        runs.append((f"dask LocalCluster, {a.workers} workers", a.workers, ("--dask", "local")))
    for label, w, extra in runs:
        rss, dt, how = peak_rss_mb(score_cmd(inp, tmp / "out", w, extra))
        rows.append((label, len(frames), f"{len(frames) / dt:.2f}", f"{dt:.1f}", f"{rss:.0f}"))
    for n in a.rss:
        rss, dt, how = peak_rss_mb(score_cmd(linked(n), tmp / f"out_rss_{n}", a.workers))
        rows.append((f"peak RSS, {a.workers} workers", n, f"{n / dt:.2f}", f"{dt:.1f}", f"{rss:.0f}"))
    print(f"\n{a.size}x{a.size} synthetic BGA frames, {os.cpu_count()} CPUs; RSS by {how}; "
          "times include process start-up\n")
    print("| run | frames | frames/s | wall s | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print("| " + " | ".join(map(str, r)) + " |")


if __name__ == "__main__":
    main()
