"""`xrayinspect score` on the command line: exit codes, progress, resume after SIGKILL."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xrayinspect.cli import main
from xrayinspect.results import FrameResult, JointResult

TESTS = str(Path(__file__).resolve().parent)
REPO = str(Path(__file__).resolve().parents[1])


def fake_scorer(path, *, frame=None, recipe=None, profile=None, classifier=None, max_pixels=None):
    """Frames named fail* fail (one void joint); error* become error rows; others pass."""
    if frame.startswith("error"):
        return FrameResult(frame=frame, status="error", error=f"{path}: cannot read")
    fail = frame.startswith("fail")
    j = JointResult(0, x_px=5.0, y_px=5.0, diameter_px=4.0, area_px=12.0, void_pct=30.0 if fail else 1.0,
                    largest_void_pct=10.0, verdict="fail" if fail else "pass", defects=["void"] if fail else [])
    return FrameResult(frame=frame, package="bga", n_sites=1, joints=[j], seconds=0.001)


def slow_scorer(path, **kw):
    time.sleep(0.25)
    return fake_scorer(path, **kw)


def inputs(d, names):
    d.mkdir(parents=True, exist_ok=True)
    for n in names:
        (d / n).write_bytes(b"x")
    return d


def frames(out):
    with open(Path(out) / "frames.csv", newline="") as f:
        return [r["frame"] for r in csv.DictReader(f)]


def score(*args):
    return main(["score", *map(str, args), "--quiet", "--scorer", "test_cli_score:fake_scorer", "--workers", "1"])


def test_exit_codes(tmp_path):
    ok = inputs(tmp_path / "ok", ["a.png", "b.png"])
    failing = inputs(tmp_path / "failing", ["a.png", "fail_b.png"])
    broken = inputs(tmp_path / "broken", ["a.png", "error_b.png", "fail_c.png"])
    assert score(ok, "--out", tmp_path / "o0") == 0
    assert score(failing, "--out", tmp_path / "o1") == 0                       # fails are not an error...
    assert score(failing, "--out", tmp_path / "o1b", "--fail-on-defect") == 1  # ...unless asked
    assert score(broken, "--out", tmp_path / "o3", "--fail-on-defect") == 3   # errors win over fails
    assert frames(tmp_path / "o3") == ["a.png", "error_b.png", "fail_c.png"]


def test_usage_errors_exit_2(tmp_path, capsys):
    ok = inputs(tmp_path / "ok", ["a.png"])
    (tmp_path / "empty").mkdir()
    assert score(tmp_path / "empty", "--out", tmp_path / "o") == 2
    assert "no frames found" in capsys.readouterr().err
    assert score(tmp_path / "missing", "--out", tmp_path / "o") == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[package\ntype=")
    assert score(ok, "--out", tmp_path / "o", "--recipe", bad) == 2
    assert "bad.toml" in capsys.readouterr().err
    assert score(ok, "--out", tmp_path / "o", "--profile", "no-such-profile") == 2
    (tmp_path / "afile").write_text("")
    assert score(ok, "--out", tmp_path / "afile" / "sub") == 2
    assert "not writable" in capsys.readouterr().err
    assert score(ok, "--out", tmp_path / "o", "--dask", "nonsense") == 2
    assert score(ok, "--out", tmp_path / "o", "--max-megapixels", "0") == 2
    assert not (tmp_path / "o" / "frames.csv").exists()
    # a changed profile on the same out folder is refused, --force accepts it
    assert score(ok, "--out", tmp_path / "o4") == 0
    assert score(ok, "--out", tmp_path / "o4", "--profile", "class3") == 2
    assert "--force" in capsys.readouterr().err
    assert score(ok, "--out", tmp_path / "o4", "--profile", "class3", "--force") == 0


def test_real_frames_end_to_end_with_progress_log(tmp_path):
    from xrayinspect.synth import write_set

    write_set(tmp_path / "in", 2, 3, package="bga", shape=(256, 256))
    (tmp_path / "in" / "junk.png").write_text("not an image")
    p = subprocess.run([sys.executable, "-m", "xrayinspect", "score", str(tmp_path / "in"), "--out",
                        str(tmp_path / "out"), "--workers", "1"], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 3, p.stderr
    assert "scored 3/3 frames" in p.stderr and "done:" in p.stderr          # log lines: stderr is not a TTY
    rows = {r["frame"]: r for r in csv.DictReader(open(tmp_path / "out" / "frames.csv"))}
    assert rows["junk.png"]["status"] == "error" and "not an image" in rows["junk.png"]["error"]
    assert sum(r["status"] == "ok" for r in rows.values()) >= 1
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frames"] == 3 and summary["error"] >= 1
    assert (tmp_path / "out" / "report.html").stat().st_size > 1000


def test_resume_after_sigkill(tmp_path):
    names = [f"f{i:02d}.png" for i in range(12)]
    inp = inputs(tmp_path / "in", names)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([TESTS, REPO, os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "xrayinspect", "score", str(inp), "--out", str(out), "--workers", "2",
           "--scorer", "test_cli_score:slow_scorer"]
    store = out / ".state" / "results.jsonl"
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if store.exists() and store.read_bytes().count(b"\n") >= 2:
                break
            if proc.poll() is not None:
                pytest.fail("the run ended before it could be interrupted")
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)      # the batch and its workers, as a crash or kill -9 would
    finally:
        proc.wait(timeout=30)
    n_before = store.read_bytes().count(b"\n")
    assert 2 <= n_before < 12, n_before
    p = subprocess.run(cmd + ["--quiet"], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    got = frames(out)
    assert sorted(got) == names and len(got) == len(set(got)) == 12
    stored = [json.loads(x)["frame"] for x in store.read_text().splitlines()]
    assert sorted(stored) == names                          # each frame stored exactly once
    summary = json.loads((out / "summary.json").read_text())
    assert summary["timings"]["frames_resumed"] >= 2 and summary["timings"]["frames_scored_now"] <= 10


def test_profiles_command(capsys):
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    assert "ipc-a-610e" in out and "class3" in out and "10" in out
    assert main(["profiles", "nope"]) == 2
