#!/usr/bin/env python3
"""Batch throughput and memory: 1 vs N workers, Dask LocalCluster vs local pool, peak RSS vs batch length.

Usage:
    python scripts/bench_batch.py [--frames 200] [--size 2048] [--distinct 16] [--workers 2]
                                  [--rss 50 500] [--rss-size 512] [--no-dask] [--keep DIR] [--md FILE]

Generating a 2048x2048 frame takes seconds, so only ``--distinct`` frames are
simulated (synthetic BGA, seeds ``--seed``, ``--seed``+1, ...); the input
folders of ``--frames`` (and ``--rss``) frames are hard links to them (copies
where links are not possible) under distinct names ``f00000.tif`` ..., each
with its recipe linked beside it. The batch keys frames by name, size and
mtime, so every link is scored as a frame of its own.

Every run is a fresh ``xrayinspect score`` process (``--force``); its wall time
includes interpreter start-up, pool or cluster start-up and table writing.
Peak RSS is the sum of the resident set sizes of the command's whole process
tree (parent, forkserver, pool workers / dask nanny + workers), polled with
psutil every 0.2 s. Throughput runs use ``--no-report``; RSS runs write the
report (the full command). All ratios compare runs of one invocation.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

POLL_S = 0.2


def run_measured(cmd):
    """Run ``cmd``; return (wall s, peak RSS MB of its process tree, CPU s of the tree, 1-min load average
    at the end, sum of the per-process peak RSS MB).

    The tree's peak is the largest sum seen at one poll: it rises with a run's length when the
    workers' transient per-frame peaks coincide more often. The sum of each process's own peak is
    the bound that does not depend on that timing.

    CPU s is the user + system time of every process seen in the tree, as last polled (a process's
    last < 0.2 s before it exits are missed). It does not depend on how busy the machine is with other
    work, unlike wall time.
    """
    import psutil

    t0 = time.perf_counter()
    p = psutil.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    cpu = {}        # (pid, create time) -> user + system s, last seen
    own = {}        # (pid, create time) -> peak RSS of that process
    while p.poll() is None:
        total = 0
        try:
            procs = [p, *p.children(recursive=True)]
        except psutil.NoSuchProcess:
            procs = []
        for q in procs:
            try:
                with q.oneshot():
                    rss = q.memory_info().rss
                    total += rss
                    t = q.cpu_times()
                    key = (q.pid, q.create_time())
                    cpu[key] = t.user + t.system
                    own[key] = max(own.get(key, 0), rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                pass
        peak = max(peak, total)
        time.sleep(POLL_S)
    dt = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    if p.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {p.returncode}:\n{err[-2000:]}")
    return dt, peak / 2**20, sum(cpu.values()), os.getloadavg()[0], sum(own.values()) / 2**20


def score_cmd(inp, out, workers, extra=()):
    return [sys.executable, "-m", "xrayinspect", "score", str(inp), "--out", str(out), "--workers", str(workers),
            "--quiet", "--force", *extra]


def _gen_one(args):
    out, seed, size = args
    from xrayinspect.synth import write_set
    return [str(p) for p in write_set(out, 1, seed, package="bga", shape=(size, size))]


def distinct_frames(root, n, size, seed, jobs):
    """``n`` distinct simulated frames of ``size`` px (generated once, reused when present)."""
    src = Path(root) / f"distinct_{size}_s{seed}"
    def frame_of(s):      # the simulator picks the file format (tif, png, jpg) per seed
        got = [p for p in src.glob(f"bga_{s}_0000.*") if not p.name.endswith((".json", ".toml", ".part"))]
        return got[0] if got else None

    want = [seed + k for k in range(n)]
    missing = [s for s in want if frame_of(s) is None]
    if missing:
        t = time.perf_counter()
        with ProcessPoolExecutor(jobs) as ex:
            list(ex.map(_gen_one, [(src, s, size) for s in missing]))
        print(f"generated {len(missing)} frames of {size}x{size} in {time.perf_counter() - t:.0f} s",
              file=sys.stderr, flush=True)
    return [frame_of(s) for s in want]


def _link(src, dst):
    try:
        os.link(src, dst)
        return "hard link"
    except OSError:
        shutil.copy2(src, dst)
        return "copy"


def linked_folder(root, frames, n, tag):
    """A folder of ``n`` frames cycling through ``frames``, as hard links with distinct names."""
    d = Path(root) / f"linked_{tag}_{n}_of_{len(frames)}"
    how = "hard link"
    if not (d.exists() and len([p for p in d.iterdir() if not p.name.endswith(".toml")]) == n):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        for i in range(n):
            f = frames[i % len(frames)]
            how = _link(f, d / f"f{i:05d}{f.suffix}")
            rec = f.with_name(f.stem + ".recipe.toml")
            if rec.exists():
                _link(rec, d / f"f{i:05d}.recipe.toml")
    return d, how


def summary_of(out):
    try:
        return json.loads((Path(out) / "summary.json").read_text())
    except (OSError, ValueError):
        return {}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=200, help="frames in the throughput runs")
    ap.add_argument("--size", type=int, default=2048, help="frame side (px) of the throughput runs")
    ap.add_argument("--distinct", type=int, default=16, help="distinct simulated frames the inputs cycle through")
    ap.add_argument("--seed", type=int, default=8_000_000, help="first simulator seed")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rss", type=int, nargs="*", default=[50, 500], help="batch lengths of the peak RSS runs")
    ap.add_argument("--rss-size", type=int, default=512, help="frame side (px) of the peak RSS runs")
    ap.add_argument("--rounds", type=int, default=1,
                    help="split the throughput runs into this many interleaved rounds of frames/rounds frames "
                         "(1 worker, pool, dask, then rotated), so drifting load from other jobs hits every run alike")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster run")
    ap.add_argument("--no-single", action="store_true", help="skip the 1-worker run")
    ap.add_argument("--keep", default=None, help="work folder (frames reused if present; default: a temp folder)")
    ap.add_argument("--md", default=None, help="also append the markdown tables to this file")
    a = ap.parse_args()

    root = Path(a.keep or tempfile.mkdtemp(prefix="xi-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(a.workers, os.cpu_count() or 1))
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = []

    def emit(s=""):
        print(s, flush=True)
        lines.append(s)

    try:
        import xrayinspect
        version = xrayinspect.__version__
    except Exception:
        version = "?"
    emit(f"Run {started}: xrayinspect {version}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
         f"`python {' '.join(sys.argv)}`")
    emit()

    thr, cpus = {}, {}
    if a.frames:
        frames = distinct_frames(root, a.distinct, a.size, a.seed, jobs)
        inp, how = linked_folder(root, frames, a.frames, a.size)
        runs = []
        if not a.no_single:
            runs.append(("local, 1 worker (in-process)", "w1", 1, ()))
        runs.append((f"local process pool, {a.workers} workers", "pool", a.workers, ()))
        if not a.no_dask:
            runs.append((f"dask LocalCluster, {a.workers} workers", "dask", a.workers, ("--dask", "local")))
        rounds = max(1, a.rounds)
        chunk = a.frames // rounds
        if rounds > 1:
            inp, how = linked_folder(root, frames, chunk, a.size)
        emit(f"Throughput: {chunk * rounds} frames of {a.size}x{a.size} px ({a.distinct} distinct simulated BGA "
             f"frames, seeds {a.seed}-{a.seed + a.distinct - 1}, repeated as {how}s), `--no-report`"
             + (f"; {rounds} interleaved rounds of {chunk} frames per run (the order rotates each round), "
                "figures summed over the rounds" if rounds > 1 else ""))
        emit()
        emit("| run | frames | wall s | frames/s | scoring s/frame (mean) | CPU s/frame | cores busy | "
             "peak RSS MB | load avg at end |")
        emit("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        acc = {key: [0, 0.0, 0.0, 0.0, 0.0, 0.0] for _, key, _, _ in runs}   # n, wall, score s, cpu, rss, load
        for r in range(rounds):
            for label, key, w, extra in runs[r % len(runs):] + runs[: r % len(runs)]:
                out = root / f"out_{key}"
                dt, rss, cpu, load, _ = run_measured(score_cmd(inp, out, w, (*extra, "--no-report")))
                s = summary_of(out)
                n = s.get("frames", chunk)
                if s.get("error"):
                    print(f"warning: {s['error']} frames errored in {label}", file=sys.stderr)
                if rounds > 1:
                    print(f"round {r + 1}: {label}: {n / dt:.3f} frames/s", file=sys.stderr, flush=True)
                t = acc[key]
                t[0] += n
                t[1] += dt
                t[2] += s.get("timings", {}).get("score_s") or float("nan")
                t[3] += cpu
                t[4] = max(t[4], rss)
                t[5] = load
        for label, key, w, extra in runs:
            n, dt, score_s, cpu, rss, load = acc[key]
            thr[key] = n / dt
            cpus[key] = cpu / max(1, n)
            emit(f"| {label} | {n} | {dt:.1f} | {n / dt:.3f} | {score_s / max(1, n):.2f} | {cpu / max(1, n):.2f} | "
                 f"{cpu / dt:.2f} | {rss:.0f} | {load:.2f} |")
        emit()
        if "w1" in thr and "pool" in thr:
            emit(f"- {a.workers} workers / 1 worker: **{thr['pool'] / thr['w1']:.2f}x** frames/s; "
                 f"CPU s per frame {cpus['pool'] / cpus['w1']:.3f}x that of 1 worker")
        if "dask" in thr and "pool" in thr:
            emit(f"- dask LocalCluster / local pool: **{thr['dask'] / thr['pool']:.3f}** "
                 f"({100 * (thr['dask'] / thr['pool'] - 1):+.1f} %) frames/s; "
                 f"CPU s per frame {cpus['dask'] / cpus['pool']:.3f}x that of the pool")
        emit()

    if a.rss:
        frames = distinct_frames(root, a.distinct, a.rss_size, a.seed, jobs)
        emit(f"Peak RSS: local process pool, {a.workers} workers, frames of {a.rss_size}x{a.rss_size} px "
             f"({a.distinct} distinct, linked), report written; RSS summed over the process tree every {POLL_S} s")
        emit()
        emit("| frames | wall s | frames/s | CPU s/frame | peak RSS MB | sum of per-process peaks MB | load avg at end |")
        emit("|---:|---:|---:|---:|---:|---:|---:|")
        peaks, bounds = {}, {}
        for n in a.rss:
            inp, _ = linked_folder(root, frames, n, a.rss_size)
            dt, rss, cpu, load, bound = run_measured(score_cmd(inp, root / f"out_rss_{n}", a.workers))
            peaks[n], bounds[n] = rss, bound
            emit(f"| {n} | {dt:.1f} | {n / dt:.2f} | {cpu / n:.2f} | {rss:.0f} | {bound:.0f} | {load:.2f} |")
        emit()
        if len(peaks) >= 2:
            lo, hi = min(peaks), max(peaks)
            emit(f"- peak RSS {hi} / {lo} frames: **{peaks[hi] / peaks[lo]:.3f}** "
                 f"({100 * (peaks[hi] / peaks[lo] - 1):+.1f} %); sum of per-process peaks "
                 f"{bounds[hi] / bounds[lo]:.3f} ({100 * (bounds[hi] / bounds[lo] - 1):+.1f} %)")
            emit()

    if a.md:
        with open(a.md, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    print(f"work folder: {root}", file=sys.stderr)


if __name__ == "__main__":
    main()
