"""Kill -9 trials: SIGKILL a batch or a review save at a random moment, then check nothing is lost.

Two trials, each seeded so a failure can be replayed:

:func:`batch_trial`
    Starts ``python -m xrayinspect score`` with 2 workers on a folder of small
    frames, SIGKILLs its process group (the batch and its workers) at a random
    moment, reruns it to completion and checks that every frame is in
    ``frames.csv`` exactly once and in the store ``.state/results.jsonl``
    exactly once (every line parsing).

:func:`review_trial`
    Starts a child process (``python -m xrayinspect.testing.kill_trials
    review-child DIR``) that appends overrides to a
    :class:`~xrayinspect.napari_plugin.review.ReviewStore` and saves
    ``joints_reviewed.csv`` after each one, in a loop; SIGKILLs it at a random
    moment; then reopens the folder and checks: the log parses (only a torn last
    line may be skipped), its entries are the child's overrides 0..n-1 in order,
    ``joints_reviewed.csv`` is complete and equals the state after n-1 or n
    overrides (the previous or the new version, never a torn one), every
    history file is a complete earlier version in order, and a new override
    appends cleanly after the torn line.

Both return ``(passed: bool, detail: str)``; ``scripts/kill_resume_trials.py``
runs many of them, ``tests/test_reliability.py`` a couple.
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["batch_trial", "review_trial", "make_batch_inputs", "REVIEW_FRAMES", "REVIEW_JOINTS"]

REVIEW_FRAMES = ("a.tif", "b.tif")
REVIEW_JOINTS = 20          # joints per frame in the child's auto calls


def _env():
    repo = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (repo, env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONWARNINGS", "ignore")
    return env


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=60)


# --------------------------------------------------------------------------
# batch
# --------------------------------------------------------------------------


def make_batch_inputs(folder, n=15, seed=11, shape=(192, 192)):
    """``n`` small synthetic frames (mixed BGA/QFN) in ``folder``; returns the frame names."""
    from ..synth import write_set

    folder = Path(folder)
    write_set(folder, n, seed, package="mixed", shape=shape)
    from ..io import iter_frames

    return sorted(name for _, name in iter_frames([folder]))


def _frames_csv(out):
    with open(Path(out) / "frames.csv", newline="", encoding="utf-8") as f:
        return [r["frame"] for r in csv.DictReader(f)]


def batch_trial(inputs, workdir, seed, *, max_delay=None, workers=2, timeout=300):
    """One kill-and-resume trial of ``xrayinspect score`` on ``inputs``.

    Parameters
    ----------
    inputs : path
        Folder of frames (see :func:`make_batch_inputs`); only read.
    workdir : path
        A fresh folder for the output.
    seed : int
        Picks the moment of the kill.
    max_delay : float, optional
        In 4 trials of 5 the kill comes uniformly in [0, max_delay] (default 5 s)
        after the first frame is stored; in the others 0.3 to 3 s after the start.
    """
    rng = random.Random(seed)
    early = rng.random() < 0.2          # 1 in 5: kill while starting up, before any frame is stored
    delay = rng.uniform(0.3, 3.0) if early else rng.uniform(0.0, max_delay or 5.0)
    out = Path(workdir) / "out"
    names = sorted(n for _, n in __import__("xrayinspect.io", fromlist=["iter_frames"]).iter_frames([inputs]))
    cmd = [sys.executable, "-m", "xrayinspect", "score", str(inputs), "--out", str(out),
           "--workers", str(workers), "--quiet"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    store = out / ".state" / "results.jsonl"
    if not early:                       # the clock starts at the first stored frame
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline and not (
                store.exists() and store.stat().st_size > 0):
            time.sleep(0.01)
    t0 = time.monotonic()
    while time.monotonic() - t0 < delay and proc.poll() is None:
        time.sleep(0.01)
    finished_first = proc.poll() is not None
    _kill_group(proc)
    n_before = store.read_bytes().count(b"\n") if store.exists() else 0
    p = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=timeout)
    when = f"{delay:.2f} s after the {'start' if early else 'first stored frame'}"
    where = f"seed {seed}, kill {when} ({n_before} frames stored before{', run had ended' if finished_first else ''})"
    if p.returncode not in (0, 3):
        return False, f"{where}: rerun exit {p.returncode}: {p.stderr.strip()[-400:]}"
    problems = []
    got = _frames_csv(out)
    if sorted(got) != names:
        problems.append(f"frames.csv holds {len(got)} rows, {len(set(got))} distinct, expected {len(names)}")
    stored = []
    for i, raw in enumerate(store.read_bytes().split(b"\n")[:-1], 1):
        try:
            stored.append(json.loads(raw)["frame"])
        except (ValueError, KeyError) as e:
            problems.append(f"store line {i} does not parse ({type(e).__name__})")
    if sorted(stored) != names:
        dup = sorted({s for s in stored if stored.count(s) > 1})
        problems.append(f"store holds {len(stored)} lines for {len(names)} frames (twice: {dup[:3]})")
    if problems:
        return False, f"{where}: " + "; ".join(problems)
    return True, where


# --------------------------------------------------------------------------
# review
# --------------------------------------------------------------------------


def _auto_rows():
    """Auto calls of the child's two frames: joints.csv rows, every joint passing."""
    from ..results import JOINT_COLUMNS

    rows = []
    for frame in REVIEW_FRAMES:
        for j in range(REVIEW_JOINTS):
            r = {c: "" for c in JOINT_COLUMNS}
            r.update(frame=frame, joint_id=j, kind="ball", grid_row=j // 5, grid_col=j % 5, x_px=10.0 * j,
                     y_px=5.0, verdict="pass", defects="", void_pct=1.0)
            rows.append(r)
    return rows


def _override(i):
    """The i-th override the child makes (deterministic)."""
    frame = REVIEW_FRAMES[i % len(REVIEW_FRAMES)]
    jid = (i * 7) % REVIEW_JOINTS
    to = {"verdict": "fail" if i % 3 else "pass", "defects": ["void"] if i % 3 else []}
    return frame, jid, to, f"r{i}"


def review_child(review_dir, max_iter=100000):
    """The loop the trial kills: one override, then a save of the reviewed CSV, again and again."""
    from ..napari_plugin.review import ReviewStore

    store = ReviewStore(review_dir)
    auto = _auto_rows()
    for i in range(max_iter):
        frame, jid, to, reason = _override(i)
        store.record(frame, jid, {"verdict": "pass", "defects": []}, to, operator="trial", reason=reason,
                     action="override")
        store.write_reviewed(auto)


def _expected_reviewed(entries):
    """(frame, joint_id) -> (verdict_final, defects_final, reason) after replaying ``entries``."""
    from ..napari_plugin.review import ReviewStore

    s = ReviewStore("/nonexistent")
    s._entries, s.problems = list(entries), []
    return {(r["frame"], str(r["joint_id"])): (r["verdict_final"], r["defects_final"], r["reason"])
            for r in s.reviewed_rows(_auto_rows())}


def _csv_state(path):
    """The CSV's (frame, joint_id) -> (verdict_final, defects_final, reason), or an error string."""
    from ..napari_plugin.review import REVIEWED_COLUMNS

    data = Path(path).read_bytes()
    if not data.endswith(b"\n"):
        return f"{path.name}: does not end with a newline (torn)"
    rows = list(csv.DictReader(data.decode("utf-8").splitlines()))
    if not rows or list(rows[0]) != REVIEWED_COLUMNS:
        return f"{path.name}: header differs"
    if len(rows) != len(REVIEW_FRAMES) * REVIEW_JOINTS:
        return f"{path.name}: {len(rows)} rows, expected {len(REVIEW_FRAMES) * REVIEW_JOINTS}"
    return {(r["frame"], r["joint_id"]): (r["verdict_final"], r["defects_final"], r["reason"]) for r in rows}


def _which_prefix(state, entries, candidates):
    for k in candidates:
        if 0 <= k <= len(entries) and state == _expected_reviewed(entries[:k]):
            return k
    return None


def review_trial(workdir, seed, *, max_delay=0.6):
    """One kill trial of review saving (see the module docstring)."""
    from ..napari_plugin.review import ReviewStore, read_log

    rng = random.Random(seed)
    delay = rng.uniform(0.0, max_delay)
    rdir = Path(workdir) / "review"
    if rdir.exists():
        shutil.rmtree(rdir)
    proc = subprocess.Popen([sys.executable, "-m", "xrayinspect.testing.kill_trials", "review-child", str(rdir)],
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    log = rdir / "review_log.jsonl"
    deadline = time.monotonic() + 60
    while not log.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    if proc.poll() is not None:
        return False, f"seed {seed}: the child ended early: {proc.stderr.read().decode(errors='replace')[-400:]}"
    time.sleep(delay)
    _kill_group(proc)
    proc.stderr.close()

    where = f"seed {seed}, kill {delay:.3f} s after the first write"
    entries, problems = read_log(log)
    bad = [p for p in problems if "torn last line" not in p]
    if bad or len(problems) > 1:
        return False, f"{where}: log problems {problems}"
    n = len(entries)
    for i, e in enumerate(entries):
        frame, jid, to, reason = _override(i)
        if (e.get("frame"), e.get("joint_id"), e.get("to"), e.get("reason")) != (frame, jid, to, reason):
            return False, f"{where}: log entry {i} is not override {i}: {e}"
    where += f", {n} overrides logged{' + torn line' if problems else ''}"
    csv_path = rdir / "joints_reviewed.csv"
    hist = sorted((rdir / "history").glob("joints_reviewed.*.csv")) if (rdir / "history").is_dir() else []
    if not csv_path.exists():
        if n > 1 or hist:
            return False, f"{where}: joints_reviewed.csv missing"
        k = 0
    else:
        state = _csv_state(csv_path)
        if isinstance(state, str):
            return False, f"{where}: {state}"
        k = _which_prefix(state, entries, (n, n - 1))
        if k is None:
            return False, f"{where}: joints_reviewed.csv matches neither the state after {n} nor {n - 1} overrides"
    # history: versions 1..k-1 (written before the current one), plus version k if killed right after copying it
    if len(hist) not in (max(k - 1, 0), k):
        return False, f"{where}: CSV is version {k} but history holds {len(hist)} files"
    for v, h in enumerate(hist, 1):
        st = _csv_state(h)
        if isinstance(st, str):
            return False, f"{where}: history {st}"
        if st != _expected_reviewed(entries[:v]):
            return False, f"{where}: history file {v} ({h.name}) is not version {v}"
    # a fresh session appends cleanly after a torn line, and replays everything
    s = ReviewStore(rdir)
    frame, jid, to, reason = _override(n)
    s.record(frame, jid, {"verdict": "pass", "defects": []}, to, operator="trial", reason=reason, action="override")
    again, _ = read_log(log)
    if len(again) != n + 1 or again[-1].get("reason") != reason:
        return False, f"{where}: after one more override the log replays {len(again)} entries, expected {n + 1}"
    s.write_reviewed(_auto_rows())
    if _csv_state(csv_path) != _expected_reviewed(again):
        return False, f"{where}: the CSV rewritten after reopening does not match the log"
    return True, f"{where}; CSV is version {k}, {len(hist)} history files"


if __name__ == "__main__":  # the child process of review_trial
    if len(sys.argv) == 3 and sys.argv[1] == "review-child":
        review_child(sys.argv[2])
    else:
        sys.exit("usage: python -m xrayinspect.testing.kill_trials review-child DIR")
