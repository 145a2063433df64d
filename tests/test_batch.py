"""Batch scoring: streamed store, tables, resume, crash isolation, dask parity, parquet, overlays."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from xrayinspect import batch
from xrayinspect.batch import STATE_DIR, STORE_NAME, BatchError, run_batch
from xrayinspect.results import FrameResult, JointResult

CHECKER = Path(__file__).resolve().parents[2] / "shared/tools/check_interface.py"


def synth_frames(tmp_path_factory, n=3):
    """n small synthetic frames (BGA and QFN), generated once per test session."""
    base = tmp_path_factory.getbasetemp() / f"synth_{n}"
    if not base.exists():
        from xrayinspect.synth import write_set

        tmp = base.with_name(base.name + ".tmp")
        write_set(tmp, n, 7, package="mixed", shape=(256, 256))
        tmp.rename(base)
    return base


@pytest.fixture
def frames_dir(tmp_path_factory, tmp_path):
    """A copy of 3 synthetic frames plus an empty file and a text file named .png."""
    src = synth_frames(tmp_path_factory)
    d = tmp_path / "in"
    shutil.copytree(src, d)
    (d / "empty.png").write_bytes(b"")
    (d / "notes.png").write_text("this is not an image\n")
    return d


def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def store_lines(out):
    return [json.loads(x) for x in (Path(out) / STATE_DIR / STORE_NAME).read_text().splitlines()]


def check_interface(out):
    if not CHECKER.exists():
        pytest.skip(f"{CHECKER} not present")
    p = subprocess.run([sys.executable, str(CHECKER), str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


# ---------------------------------------------------------------- fake scorers (module level: picklable)

def fake_scorer(path, *, frame=None, recipe=None, profile=None, classifier=None, max_pixels=None):
    """Fast stand-in for pipeline.score_file: two joints, the second fails when the name has 'bad'."""
    fail = "bad" in frame
    joints = [JointResult(0, x_px=10.0, y_px=12.0, site_x_px=10.0, site_y_px=12.0, offset_px=0.0, diameter_px=8.0,
                          area_px=50.0, circularity=0.9, void_pct=5.0, largest_void_pct=3.0, grid_row=0, grid_col=0),
              JointResult(1, x_px=30.0, y_px=12.0, site_x_px=30.0, site_y_px=12.0, offset_px=0.0, diameter_px=8.0,
                          area_px=50.0, circularity=0.9, void_pct=40.0 if fail else 1.0,
                          largest_void_pct=20.0 if fail else 1.0, grid_row=0, grid_col=1,
                          verdict="fail" if fail else "pass", defects=["void"] if fail else [])]
    return FrameResult(frame=frame, package="bga", pitch_px=20.0, angle_deg=0.0, n_sites=2, joints=joints,
                       seconds=0.001)


def crashing_scorer(path, **kw):
    """Kills its own process (as a segfault or OOM kill would) on frames named crash*."""
    if kw["frame"].startswith("crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    return fake_scorer(path, **kw)


def fake_inputs(d, names):
    d.mkdir(parents=True, exist_ok=True)
    for n in names:
        (d / n).write_bytes(b"not read by the fake scorer")
    return d


# ---------------------------------------------------------------- real frames through the real pipeline

def test_batch_scores_frames_and_reports_bad_files(frames_dir, tmp_path):
    out = tmp_path / "out"
    s = run_batch([frames_dir], out, workers=1, progress="none")
    fr = {r["frame"]: r for r in rows(out / "frames.csv")}
    assert len(fr) == 5 and s.n_frames == 5
    assert fr["empty.png"]["status"] == "error" and fr["notes.png"]["status"] == "error"
    for bad in ("empty.png", "notes.png"):
        assert fr[bad]["verdict"] == "error"
        assert fr[bad]["error"].strip() and "\n" not in fr[bad]["error"]
    good = [k for k in fr if k not in ("empty.png", "notes.png")]
    # the scorer's own quality is not under test here: every good frame has a row, most score ok
    assert sum(fr[k]["status"] == "ok" for k in good) >= 2, [fr[k]["error"] for k in good]
    assert s.n_error == 5 - s.n_ok >= 2 and s.n_pass + s.n_fail == s.n_ok
    # store: one line per frame; sidecars; summary
    lines = store_lines(out)
    assert sorted(d["frame"] for d in lines) == sorted(fr)
    assert all(d["_batch"]["key"][0] == d["frame"] for d in lines)
    assert len(list((out / "sidecars").glob("*.json"))) == 5
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 5 and summary["error"] == s.n_error and summary["profile"].startswith("ipc-a-610e")
    n_joint_rows = len(rows(out / "joints.csv"))
    assert n_joint_rows == summary["joints"] == sum(len(d["joints"]) for d in lines if d["status"] == "ok")


def test_tables_conform_to_interface(tmp_path):
    inp = fake_inputs(tmp_path / "in", ["ok1.png", "bad1.png", "ok2.png"])
    (inp / "empty.png").write_bytes(b"")
    out = tmp_path / "out"
    s = run_batch([inp], out, workers=1, progress="none", scorer=fake_scorer)
    assert (s.n_ok, s.n_fail, s.n_error) == (4, 1, 0)      # the fake scorer reads nothing
    check_interface(out)
    fr = {r["frame"]: r for r in rows(out / "frames.csv")}
    assert fr["bad1.png"]["verdict"] == "fail" and fr["bad1.png"]["n_fail"] == "1"
    jr = [r for r in rows(out / "joints.csv") if r["frame"] == "bad1.png"]
    assert [r["defects"] for r in jr] == ["", "void"]


def test_real_pipeline_output_conforms(frames_dir, tmp_path):
    out = tmp_path / "out"
    run_batch([frames_dir], out, workers=1, progress="none", report=False)
    check_interface(out)


def test_resume_scores_only_new_or_changed_frames(frames_dir, tmp_path):
    out = tmp_path / "out"
    run_batch([frames_dir], out, workers=1, progress="none")
    before = rows(out / "frames.csv")
    s = run_batch([frames_dir], out, workers=1, progress="none")
    assert s.n_scored == 0 and s.n_resumed == 5
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
    assert strip(rows(out / "frames.csv")) == strip(before)
    # a changed file (new mtime) and a new file are scored; nothing else
    victim = sorted(frames_dir.glob("*.tif"))[0]
    st = victim.stat()
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    shutil.copy(victim, frames_dir / "zz_copy.tif")
    s = run_batch([frames_dir], out, workers=1, progress="none")
    assert s.n_scored == 2 and s.n_resumed == 4
    names = [r["frame"] for r in rows(out / "frames.csv")]
    assert len(names) == len(set(names)) == 6


def test_torn_last_line_is_dropped_and_rescored(tmp_path):
    inp = fake_inputs(tmp_path / "in", [f"f{i}.png" for i in range(5)])
    out = tmp_path / "out"
    run_batch([inp], out, workers=1, progress="none", scorer=fake_scorer)
    store = out / STATE_DIR / STORE_NAME
    data = store.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    torn_frame = json.loads(data[last_start:])["frame"]
    store.write_bytes(data[: last_start + (len(data) - last_start) // 2])   # killed mid-write
    s = run_batch([inp], out, workers=1, progress="none", scorer=fake_scorer)
    assert s.n_scored == 1 and s.n_resumed == 4
    lines = store_lines(out)             # every line parses again: the torn tail was cut
    assert sorted(d["frame"] for d in lines) == [f"f{i}.png" for i in range(5)]
    assert lines[-1]["frame"] == torn_frame
    assert sorted(r["frame"] for r in rows(out / "frames.csv")) == [f"f{i}.png" for i in range(5)]


def test_other_settings_refused_unless_force(tmp_path):
    inp = fake_inputs(tmp_path / "in", ["a.png", "b.png"])
    out = tmp_path / "out"
    run_batch([inp], out, workers=1, progress="none", scorer=fake_scorer)
    with pytest.raises(BatchError, match="different profile.*--force"):
        run_batch([inp], out, workers=1, progress="none", scorer=fake_scorer, profile="class3")
    s = run_batch([inp], out, workers=1, progress="none", scorer=fake_scorer, profile="class3", force=True)
    assert s.n_scored == 2 and s.n_resumed == 0
    assert len(store_lines(out)) == 2            # force starts a fresh store
    run_json = json.loads((out / STATE_DIR / "run.json").read_text())
    assert run_json["settings"]["profile"]["name"] == "class3"
    assert run_json["xrayinspect_version"]


def test_usage_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BatchError, match="no frames found"):
        run_batch([empty], tmp_path / "o1", workers=1, progress="none")
    with pytest.raises(BatchError, match="input not found"):
        run_batch([tmp_path / "nope"], tmp_path / "o2", workers=1, progress="none")
    inp = fake_inputs(tmp_path / "in", ["a.png"])
    (tmp_path / "file").write_text("x")
    with pytest.raises(BatchError, match="not writable"):
        run_batch([inp], tmp_path / "file" / "out", workers=1, progress="none", scorer=fake_scorer)


def test_worker_crash_becomes_error_row(tmp_path):
    names = ["a.png", "b.png", "crash.png", "c.png", "d.png", "e.png"]
    inp = fake_inputs(tmp_path / "in", names)
    out = tmp_path / "out"
    s = run_batch([inp], out, workers=2, progress="none", scorer=crashing_scorer)
    fr = {r["frame"]: r for r in rows(out / "frames.csv")}
    assert sorted(fr) == sorted(names)
    assert fr["crash.png"]["status"] == "error" and "worker crashed" in fr["crash.png"]["error"]
    assert all(fr[n]["status"] == "ok" for n in names if n != "crash.png")   # neighbours were rescored, not blamed
    assert s.n_crashed == 1 and s.n_error == 1


def test_periodic_tables_written_during_run(tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "TABLE_EVERY", 2)
    calls = []
    real = batch.write_tables_from_store
    monkeypatch.setattr(batch, "write_tables_from_store",
                        lambda *a, **k: (calls.append(len(a[1].index)), real(*a, **k))[1])
    inp = fake_inputs(tmp_path / "in", [f"f{i}.png" for i in range(7)])
    run_batch([inp], tmp_path / "out", workers=1, progress="none", scorer=fake_scorer)
    assert calls[:-1] and all(n < 7 for n in calls[:-1]) and calls[-1] == 7


def test_parquet_and_overlays(frames_dir, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "out"
    s = run_batch([frames_dir], out, workers=1, progress="none", fmt="parquet", overlays=True, report=False)
    ft, jt = pq.read_table(out / "frames.parquet"), pq.read_table(out / "joints.parquet")
    assert ft.num_rows == len(rows(out / "frames.csv")) == 5
    assert jt.num_rows == len(rows(out / "joints.csv"))
    assert str(ft.schema.field("n_joints").type) == "int64" and str(jt.schema.field("void_pct").type) == "double"
    pngs = sorted(p.name for p in (out / "overlays").glob("*.png"))
    assert len(pngs) == s.n_ok >= 2 and "empty.png.png" not in pngs
    import cv2
    img = cv2.imread(str(out / "overlays" / pngs[0]))
    assert img is not None and img.ndim == 3 and img.shape[:2] == (256, 256)


def test_sanitised_output_names_stay_inside_out(tmp_path):
    fake_inputs(tmp_path / "in" / "sub dir", ["a b&c.png"])
    out = tmp_path / "out"
    run_batch([tmp_path / "in"], out, workers=1, progress="none", scorer=fake_scorer, overlays=True)
    assert [r["frame"] for r in rows(out / "frames.csv")] == ["sub dir/a b&c.png"]
    side = list((out / "sidecars").iterdir())
    assert len(side) == 1 and "/" not in side[0].name and " " not in side[0].name
    for evil in ("../../etc/passwd", "..", "a/../../b.png"):
        name = batch.overlay_name(evil)
        assert "/" not in name and (out / "overlays" / name).resolve().parent == (out / "overlays").resolve()


def test_dask_local_cluster_matches_local_pool(frames_dir, tmp_path):
    distributed = pytest.importorskip("distributed")
    a, b = tmp_path / "pool", tmp_path / "dask"
    run_batch([frames_dir], a, workers=2, progress="none")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        s = run_batch([frames_dir], b, workers=2, progress="none", dask=cluster.scheduler_address)
    finally:
        cluster.close()
    assert s.backend.startswith("dask") and s.n_frames == 5

    def table(p):
        return sorted(tuple(sorted((k, v) for k, v in r.items() if k != "seconds")) for r in rows(p))

    for name in ("frames.csv", "joints.csv"):
        assert table(a / name) == table(b / name), name
    assert len(rows(a / "joints.csv")) > 0
