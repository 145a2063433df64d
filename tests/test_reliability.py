"""Reliability (issue 8): bad inputs through the command line, bad recipes, kill -9 during review
saving, scoring with the network blocked, output paths that never leave the output folder.

The bad-frame corpus is :func:`xrayinspect.testing.bad_inputs.make_bad_inputs`; its napari
side is ``tests/napari/test_reader_bad_inputs.py``. Model refusal (tampered weights, a pickle)
is ``tests/test_classifier.py``; kill -9 of a batch is ``tests/test_cli_score.py``.
"""

import csv
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from xrayinspect.cli import main
from xrayinspect.errors import RecipeError
from xrayinspect.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]
CHECKER = REPO.parent / "shared/tools/check_interface.py"

# the walk finds files only: these two kinds are no rows (a missing input is tested on its own)
NOT_WALKED = {"directory_named_tif", "missing_file"}


def env(**extra):
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(p for p in (*extra.pop("pythonpath", ()), str(REPO),
                                                  e.get("PYTHONPATH", "")) if p)
    e.setdefault("PYTHONWARNINGS", "ignore")
    e.update(extra)
    return e


def cli(*args, timeout=300, **kw):
    return subprocess.run([sys.executable, "-m", "xrayinspect", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env(**kw), cwd=REPO)


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:      # strict UTF-8, as consumers read it
        return list(csv.DictReader(f))


def as_table_text(name):
    """A frame name as frames.csv holds it (undecodable bytes of a file name as \\udcXX escapes)."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def check_interface(out):
    if not CHECKER.exists():
        pytest.skip(f"{CHECKER} not present")
    p = subprocess.run([sys.executable, str(CHECKER), str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.fixture(scope="module")
def good_frames(tmp_path_factory):
    from xrayinspect.synth import write_set

    d = tmp_path_factory.mktemp("good")
    write_set(d, 2, 5, shape=(256, 256))
    return d


# ------------------------------------------------------------------ 1a: the bad-frame corpus via the CLI

def test_bad_input_corpus_through_the_cli(tmp_path, good_frames):
    import shutil

    from xrayinspect.testing.bad_inputs import make_bad_inputs

    corpus = tmp_path / "corpus"
    manifest = make_bad_inputs(corpus)
    shutil.copytree(good_frames, corpus / "good")
    loop = corpus / "loop"
    loop.mkdir()
    os.symlink("..", loop / "up")                 # a symlink loop: the walk must visit each folder once
    os.symlink(loop, loop / "self")
    out = tmp_path / "out"

    p = cli("score", corpus, "--out", out, "--workers", "2", "--quiet")
    assert p.returncode == 3, p.stderr[-2000:]
    assert "Traceback" not in p.stderr, p.stderr[-2000:]
    rows = read_rows(out / "frames.csv")
    by_frame = {r["frame"]: r for r in rows}
    assert len(by_frame) == len(rows), "a frame appears twice (the symlink loop was walked)"

    expected_names = set()
    for kind, (path, expect) in manifest.items():
        if kind in NOT_WALKED:
            continue
        name = as_table_text(path.relative_to(corpus).as_posix())
        expected_names.add(name)
        assert name in by_frame, f"{kind}: no row for {name!r}"
        r = by_frame[name]
        assert r["status"] in ("ok", "error"), (kind, r)
        if expect == "error":
            assert r["status"] == "error" and r["verdict"] == "error", (kind, r)
            reason = r["error"]
            assert reason.strip() and "\n" not in reason and "\r" not in reason, (kind, reason)
            assert path.name in reason, f"{kind}: the reason does not name the file: {reason!r}"
        elif r["status"] == "error":
            assert r["error"].strip() and "\n" not in r["error"], (kind, r)
    goods = sorted(n for n in by_frame if n.startswith("good/"))
    assert len(goods) == 2 and all(by_frame[n]["status"] == "ok" for n in goods), goods
    assert set(by_frame) == expected_names | set(goods)
    assert "x.tif" not in by_frame                 # a folder named like a frame is no frame
    sidecars = list((out / "sidecars").iterdir())
    assert len(sidecars) == len(rows)
    check_interface(out)


def test_missing_input_is_a_usage_error(tmp_path):
    p = cli("score", tmp_path / "nope.tif", "--out", tmp_path / "out")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.count("\n") == 1 and "nope.tif" in p.stderr


# ------------------------------------------------------------------ 1c: bad recipes

def bad_recipes(d):
    """name -> path of recipes that must be refused."""
    d.mkdir(parents=True, exist_ok=True)
    texts = {
        "empty": "",
        "no_package": "[image]\nsolder = \"dark\"\n",
        "no_type": "[package]\nrows = 4\n",
        "unknown_type": "[package]\ntype = \"lga\"\n",
        "type_not_string": "[package]\ntype = 3\n",
        "rows_string": "[package]\ntype = \"bga\"\nrows = \"ten\"\n",
        "pitch_bool": "[package]\ntype = \"bga\"\npitch_mm = true\n",
        "depopulated_string": "[package]\ntype = \"bga\"\ndepopulated = \"0,0\"\n",
        "depopulated_triples": "[package]\ntype = \"bga\"\ndepopulated = [[0, 0, 0]]\n",
        "pad_scalar": "[package]\ntype = \"qfn\"\npad_mm = 3.1\n",
        "solder_number": "[package]\ntype = \"bga\"\n[image]\nsolder = 1\n",
        "limits_not_table": "limits = 5\n[package]\ntype = \"bga\"\n",
        "package_array_of_tables": "[[package]]\ntype = \"bga\"\n",
        "rows_zero": "[package]\ntype = \"bga\"\nrows = 0\n",
        "rows_huge": "[package]\ntype = \"bga\"\nrows = 100000\n",
        "rows_over_64_bits": "[package]\ntype = \"bga\"\nrows = 99999999999999999999999999\n",
        "pitch_absurd": "[package]\ntype = \"bga\"\npitch_mm = 1e9\n",
        "void_negative": "[package]\ntype = \"bga\"\n[limits]\nball_void_pct = -5\n",
        "void_over_100": "[package]\ntype = \"bga\"\n[limits]\nball_void_pct = 250\n",
        "offset_nan": "[package]\ntype = \"bga\"\n[limits]\noffset_frac = nan\n",
        "pixel_inf": "[package]\ntype = \"bga\"\n[image]\npixel_size_um = inf\n",
        "ball_over_pitch": "[package]\ntype = \"bga\"\npitch_mm = 0.5\nball_diameter_mm = 0.6\n",
        "depop_outside": "[package]\ntype = \"bga\"\nrows = 2\ncols = 2\ndepopulated = [[5, 5]]\n",
        "malformed": "[package\ntype = bga\n",
        "duplicate_key": "[package]\ntype = \"bga\"\ntype = \"qfn\"\n",
        "deep_nesting": "[package]\ntype = \"bga\"\nx = " + "[" * 20000 + "]" * 20000 + "\n",
        "huge_value": "[package]\ntype = \"" + "b" * 5_000_000 + "\"\n",
    }
    out = {}
    for name, text in texts.items():
        p = d / f"{name}.toml"
        p.write_text(text, encoding="utf-8")
        out[name] = p
    p = d / "latin1.toml"
    p.write_bytes("[package]\ntype = \"bga\"  # Lötstelle\n".encode("latin-1"))
    out["not_utf8"] = p
    p = d / "junk.toml"
    import random

    rng = random.Random(0)
    p.write_bytes(bytes(rng.randrange(256) for _ in range(5 * 2**20)))   # ~5 MB of junk
    out["huge_junk"] = p
    p = d / "junk_text.toml"
    p.write_text("".join(rng.choice("ab=[]{}\"'#.\n 01") for _ in range(5 * 2**20)))
    out["huge_junk_text"] = p
    p = d / "folder.toml"
    p.mkdir()
    out["directory"] = p
    out["missing"] = d / "missing.toml"
    return out


@pytest.fixture(scope="module")
def recipes(tmp_path_factory):
    return bad_recipes(tmp_path_factory.mktemp("recipes"))


def test_bad_recipes_raise_one_line_naming_the_file(recipes):
    for name, path in recipes.items():
        with pytest.raises(RecipeError) as e:
            load_recipe(path)
        msg = str(e.value)
        assert "\n" not in msg and msg.startswith(f"{path}: "), (name, msg[:300])
        assert len(msg) < 400, (name, msg[:300])


def test_bad_recipes_through_the_cli(recipes, tmp_path, capsys):
    frame = tmp_path / "in" / "a.png"
    frame.parent.mkdir()
    frame.write_bytes(b"never read: the recipe is refused first")
    for name, path in recipes.items():
        out = tmp_path / f"out_{name}"
        assert main(["score", str(frame.parent), "--out", str(out), "--recipe", str(path), "--quiet"]) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err, (name, err[:300])


@pytest.mark.parametrize("name", ["huge_junk", "not_utf8", "directory", "deep_nesting"])
def test_bad_recipe_subprocess_exit_2_no_traceback(recipes, tmp_path, name):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(b"x")
    p = cli("score", tmp_path / "in", "--out", tmp_path / "out", "--recipe", recipes[name])
    assert p.returncode == 2, p.stderr[-2000:]
    assert "Traceback" not in p.stderr and p.stderr.count("\n") == 1, p.stderr[-2000:]
    assert str(recipes[name]) in p.stderr


# ------------------------------------------------------------------ 3: kill -9 while saving a review

@pytest.mark.parametrize("seed", [1, 2])
def test_review_save_survives_sigkill(tmp_path, seed):
    from xrayinspect.testing.kill_trials import review_trial

    ok, detail = review_trial(tmp_path, seed)
    assert ok, detail


def test_history_copy_is_never_torn(tmp_path, monkeypatch):
    """A crash while the previous reviewed CSV is copied into history/ leaves no partial file there."""
    import shutil

    from xrayinspect.napari_plugin.review import ReviewStore
    from xrayinspect.testing.kill_trials import _auto_rows

    s = ReviewStore(tmp_path / "review")
    s.record("a.tif", 1, {"verdict": "pass", "defects": []}, {"verdict": "fail", "defects": ["void"]})
    s.write_reviewed(_auto_rows())
    first = s.csv_path.read_bytes()

    def half_copy(src, dst, *a, **k):
        Path(dst).write_bytes(Path(src).read_bytes()[:100])
        raise KeyboardInterrupt("killed mid-copy")

    monkeypatch.setattr(shutil, "copy2", half_copy)
    s.record("a.tif", 2, {"verdict": "pass", "defects": []}, {"verdict": "fail", "defects": ["void"]})
    with pytest.raises(KeyboardInterrupt):
        s.write_reviewed(_auto_rows())
    monkeypatch.undo()
    assert s.history() == [] and list(s.history_dir.iterdir()) == []
    assert s.csv_path.read_bytes() == first
    s.write_reviewed(_auto_rows())
    assert [h.read_bytes() for h in s.history()] == [first]


# ------------------------------------------------------------------ 4: the network blocked

NETBLOCK = '''
import os, socket

class NetworkBlocked(OSError):
    pass

def _blocked(*a, **k):
    raise NetworkBlocked("network blocked by the test")

_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex

def _connect_local_only(self, *a, **k):   # AF_UNIX stays: the forkserver talks to its children over it
    if self.family == getattr(socket, "AF_UNIX", None):
        return _connect(self, *a, **k)
    _blocked()

def _connect_ex_local_only(self, *a, **k):
    if self.family == getattr(socket, "AF_UNIX", None):
        return _connect_ex(self, *a, **k)
    _blocked()

socket.socket.connect = _connect_local_only
socket.socket.connect_ex = _connect_ex_local_only
socket.create_connection = _blocked
socket.getaddrinfo = _blocked
_log = os.environ.get("XRAYINSPECT_NETBLOCK_LOG")
if _log:
    with open(_log, "a") as f:
        f.write(f"{os.getpid()}\\n")
'''


@pytest.fixture
def no_network(monkeypatch):
    def blocked(*a, **k):
        raise OSError("network blocked by the test")

    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex
    unix = getattr(socket, "AF_UNIX", None)

    def local_only(orig):    # Unix-domain sockets are no network (multiprocessing uses them)
        return lambda self, *a, **k: orig(self, *a, **k) if self.family == unix else blocked()

    monkeypatch.setattr(socket.socket, "connect", local_only(connect))
    monkeypatch.setattr(socket.socket, "connect_ex", local_only(connect_ex))
    monkeypatch.setattr(socket, "create_connection", blocked)
    monkeypatch.setattr(socket, "getaddrinfo", blocked)
    with pytest.raises(OSError, match="blocked"):
        socket.create_connection(("127.0.0.1", 9))
    with pytest.raises(OSError, match="blocked"), socket.socket() as s:
        s.connect(("127.0.0.1", 9))


def test_scoring_with_the_network_blocked(no_network):
    from xrayinspect.pipeline import score_frame
    from xrayinspect.synth import generate_frame

    f = generate_frame(3, package="bga", shape=(256, 256))
    r = score_frame(f.image, frame="net.tif")
    assert r.status == "ok" and r.joints
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    from xrayinspect.classify import load_classifier

    clf = load_classifier("default")
    import numpy as np

    proba = clf.predict_proba(np.zeros((2, 1, 32, 32), np.float32))
    assert np.all(np.isfinite(np.asarray(proba)))


def test_cli_with_the_network_blocked(tmp_path, good_frames):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(NETBLOCK))
    log = tmp_path / "pids.txt"
    kw = {"pythonpath": [str(site)], "XRAYINSPECT_NETBLOCK_LOG": str(log)}
    probe = subprocess.run([sys.executable, "-c", "import socket; socket.create_connection(('127.0.0.1', 9))"],
                           capture_output=True, text=True, env=env(**kw))
    assert probe.returncode != 0 and "network blocked by the test" in probe.stderr
    log.unlink()
    p = cli("score", good_frames, "--out", tmp_path / "out", "--workers", "2", "--quiet", **kw)
    assert p.returncode == 0, p.stderr[-2000:]
    rows = read_rows(tmp_path / "out" / "frames.csv")
    assert len(rows) == 2 and all(r["status"] == "ok" for r in rows), rows
    pids = set(log.read_text().split())
    assert len(pids) >= 2, "the worker processes did not load the blocking sitecustomize"


# ------------------------------------------------------------------ 5: output paths stay inside OUT

def one_joint_scorer(path, *, frame=None, **kw):
    """Fast stand-in for pipeline.score_file: one passing joint (the overlay is drawn on the real frame)."""
    from xrayinspect.results import FrameResult, JointResult

    j = JointResult(0, x_px=40.0, y_px=40.0, site_x_px=40.0, site_y_px=40.0, diameter_px=12.0, area_px=110.0,
                    circularity=0.9, void_pct=2.0, largest_void_pct=1.0, grid_row=0, grid_col=0)
    return FrameResult(frame=frame, package="bga", pitch_px=20.0, angle_deg=0.0, n_sites=1, joints=[j],
                       seconds=0.001)


def test_output_paths_never_escape(tmp_path, good_frames, monkeypatch):
    import xrayinspect.io as xio
    from xrayinspect.batch import run_batch

    src = next(good_frames.glob("*.tif"))
    evil = ["../../escape.png", "/etc/evil.png", "a/../../b.png", "..", "../", "C:\\Windows\\evil.png",
            "~/home.png", "sub/" + "L" * 1000 + ".png", "\x00nul.png", ".hidden/../.png", "./x.png"]
    real = xio.iter_frames

    def fake_iter(inputs):
        for name in evil:
            yield src, name

    inside = tmp_path / "work" / "out"
    monkeypatch.setattr(xio, "iter_frames", fake_iter)
    before = {p for p in tmp_path.rglob("*")}
    run_batch([src], inside, workers=1, progress="none", overlays=True, report=False, scorer=one_joint_scorer)
    monkeypatch.setattr(xio, "iter_frames", real)
    created = {p for p in tmp_path.rglob("*")} - before
    out_real = inside.resolve()
    for p in created:
        assert p.resolve().is_relative_to(out_real) or p.resolve() == out_real.parent, p
        assert len(p.name) <= 255
    rows = read_rows(inside / "frames.csv")
    assert sorted(r["frame"] for r in rows) == sorted(evil)
    assert len(list((inside / "sidecars").iterdir())) == len(evil)
    assert len(list((inside / "overlays").iterdir())) == sum(r["status"] == "ok" for r in rows) == len(evil)


def test_long_and_odd_file_names_through_the_cli(tmp_path, good_frames):
    src = next(good_frames.glob("*.tif")).read_bytes()
    d = tmp_path / "in"
    (d / "..dots").mkdir(parents=True)
    names = ["L" * 240 + ".tif", "-rf.tif", "a b&c;$(x).tif", "C:\\evil.tif", "new\nline.tif"]
    for n in names:
        (d / n).write_bytes(src)
    dotted = d / "..dots" / "..%2f..%2fx.tif"      # a dot file is skipped by the walk: give it explicitly
    dotted.write_bytes(src)
    names.append(dotted.name)
    out = tmp_path / "out"
    p = cli("score", d, dotted, "--out", out, "--workers", "2", "--quiet", "--overlays")
    assert p.returncode == 0, p.stderr[-2000:]
    rows = read_rows(out / "frames.csv")
    assert sorted(r["frame"] for r in rows) == sorted(names)
    for sub in ("sidecars", "overlays"):
        files = list((out / sub).iterdir())
        assert len(files) == len(names)
        assert all(f.resolve().parent == (out / sub).resolve() and "\n" not in f.name for f in files)
    side = json.loads(next((out / "sidecars").iterdir()).read_text())
    assert side["frame"] in names
