"""Score many frames: a local process pool or a Dask cluster, streamed to disk, resumable.

:func:`run_batch` finds frames with :func:`xrayinspect.io.iter_frames`, reads and
scores each one *inside* a worker and streams every finished frame to an
append-only store ``OUT/.state/results.jsonl`` (one JSON line per frame, flushed
and fsynced) and to its sidecar ``OUT/sidecars/<frame>.json``. The tables
``frames.csv`` and ``joints.csv`` (and ``.parquet`` with ``fmt="parquet"``) are
regenerated from the store atomically now and then during the run and at its
end, by streaming through the store, so memory stays flat however many frames
and joints a batch holds.

Resume: a rerun scores only frames whose key (relative frame name, file size,
modification time) is not in the store yet. A torn last line (the process was
killed while writing it) is dropped and that frame scored again. ``force=True``
starts a fresh store.

A worker process that dies (segfault, out-of-memory kill) turns the frame it
was scoring into a ``status=error`` row "worker crashed"; the pool is restarted
and the batch goes on. Frames that were in flight beside it are scored again,
one at a time, so only the culprit is blamed.

This module imports no dask: ``dask="local"`` or ``dask="tcp://host:port"``
imports :mod:`distributed` when used.
"""

from __future__ import annotations

import contextlib
import csv
import heapq
import json
import math
import os
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ._version import SCHEMA_VERSION, __version__
from .errors import XrayInspectError
from .results import (DEFECT_CODES, FRAME_COLUMNS, JOINT_COLUMNS, FrameResult, atomic_write_bytes, atomic_write_text,
                      error_result, sidecar_name)

__all__ = ["BatchError", "BatchSummary", "run_batch", "exit_code", "STATE_DIR", "STORE_NAME"]

STATE_DIR = ".state"
STORE_NAME = "results.jsonl"
RUN_NAME = "run.json"
#: Tables are regenerated during a run after this many new frames (and at most
#: every ~10x the time the last regeneration took, so it costs <10 % of the run).
TABLE_EVERY = 50

DASK_HINT = "pip install 'xrayinspect[dask]'"
PARQUET_HINT = "pip install 'xrayinspect[parquet]'"


class BatchError(XrayInspectError):
    """A batch cannot start: no inputs, bad settings, unwritable output, missing extra.

    The command line turns it into exit code 2.
    """


@dataclass
class BatchSummary:
    """What a batch did. Counts cover every frame in the tables (scored now or resumed)."""

    out: str
    n_frames: int = 0
    n_ok: int = 0
    n_error: int = 0
    n_pass: int = 0
    n_fail: int = 0
    n_joints: int = 0
    n_scored: int = 0          # scored in this run
    n_resumed: int = 0         # taken from the store of an earlier run
    n_crashed: int = 0         # frames whose worker process died
    seconds: float = 0.0       # wall time of this run
    score_seconds: float = 0.0  # sum of per-frame scoring time in this run
    defects: dict = field(default_factory=dict)        # code -> joints carrying it
    defect_frames: dict = field(default_factory=dict)  # code -> frames with at least one
    profile: str = ""
    backend: str = ""
    workers: int = 1

    @property
    def yield_pct(self):
        """Frames that passed / frames scored ok x 100 (NaN when none scored)."""
        return 100.0 * self.n_pass / self.n_ok if self.n_ok else math.nan


def exit_code(summary, *, fail_on_defect=False):
    """The command's exit status for a summary: 3 if any frame errored, else 1 if any
    frame failed and ``fail_on_defect``, else 0."""
    if summary.n_error:
        return 3
    if fail_on_defect and summary.n_fail:
        return 1
    return 0


# --------------------------------------------------------------------------
# worker side (runs in a pool process, a dask worker, or in-process)
# --------------------------------------------------------------------------

_CLASSIFIERS = {}


def _load_classifier(spec):
    """A classifier from a spec ("default" or a model folder) via :func:`xrayinspect.classify.load_classifier`;
    cached per process. Objects are passed through."""
    if spec is None or not isinstance(spec, (str, os.PathLike)):
        return spec
    key = os.fspath(spec)
    if key not in _CLASSIFIERS:
        from .classify import load_classifier   # torch-free seam; torch (or onnxruntime) loads inside
        _CLASSIFIERS[key] = load_classifier(key)
    return _CLASSIFIERS[key]


def _clean(o):
    """JSON-safe copy: NaN/inf -> None, numpy scalars/arrays -> Python."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if o is None or isinstance(o, (str, int, bool)):
        return o
    tolist = getattr(o, "tolist", None)     # numpy scalar or array
    if callable(tolist):
        return _clean(tolist())
    return str(o)


def _resolve_scorer(scorer):
    if scorer is None:
        from . import pipeline
        return pipeline.score_file     # looked up at call time (tests may patch it)
    if isinstance(scorer, str):
        import importlib
        mod, _, fn = scorer.partition(":")
        return getattr(importlib.import_module(mod), fn)
    return scorer


def overlay_name(frame):
    """File name of a frame's overlay PNG (flat and safe, as its sidecar's)."""
    return sidecar_name(frame)[: -len(".json")] + ".png"


def _one_thread_worker():
    """Pool worker start-up: one frame per worker process, one thread per frame.

    OpenCV's own threads would make each worker take more than its core, so
    N workers would not scale to N cores. Freed frame-sized buffers are kept
    for the next frame (:func:`xrayinspect._malloc.keep_freed_memory`).
    """
    from ._malloc import keep_freed_memory

    keep_freed_memory()
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # noqa: BLE001 -- only a performance hint
        pass


def score_task(path, frame, recipe=None, profile=None, classifier=None, max_pixels=None,
               overlay_dir=None, overlay_bytes=False, scorer=None):
    """Read and score one frame; returns ``(sidecar dict, extras dict)``. Never raises for bad input.

    Run inside a worker: the frame is read there, only the result travels back.
    ``extras`` holds ``seconds``, ``n_sites`` and, with ``overlay_bytes``, the
    overlay PNG bytes (``overlay_png``).
    """
    t0 = time.perf_counter()
    try:
        fn = _resolve_scorer(scorer)
        clf = _load_classifier(classifier)
        result = fn(path, frame=frame, recipe=recipe, profile=profile, classifier=clf, max_pixels=max_pixels)
    except MemoryError:
        result = error_result(frame, f"{path}: out of memory while scoring")
    except Exception as e:  # a bug in scoring must not stop the batch
        result = error_result(frame, f"{path}: could not be scored ({type(e).__name__}: {e})")
    seconds = result.seconds if isinstance(result.seconds, float) and math.isfinite(result.seconds) \
        else time.perf_counter() - t0
    extras = {"seconds": seconds, "n_sites": int(result.n_sites or 0)}
    if (overlay_dir or overlay_bytes) and result.status == "ok":
        try:
            png = _overlay_png(path, result, max_pixels)
            if overlay_dir:
                atomic_write_bytes(Path(overlay_dir) / overlay_name(frame), png)
            else:
                extras["overlay_png"] = png
        except Exception as e:  # an overlay is a nicety; say why it is absent
            extras["overlay_error"] = f"{type(e).__name__}: {e}"
    return _clean(result.sidecar()), extras


def _overlay_png(path, result, max_pixels):
    import cv2

    from . import io as xio
    from .overlay import draw_overlay

    kw = {} if max_pixels is None else {"max_pixels": max_pixels}
    image, _ = xio.read_frame(path, **kw)
    ok, buf = cv2.imencode(".png", draw_overlay(image, result))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def _umask_mode():
    m = os.umask(0)
    os.umask(m)
    return 0o666 & ~m


# --------------------------------------------------------------------------
# the store
# --------------------------------------------------------------------------


def frame_key(path, frame):
    """Resume key: relative frame name, file size and modification time (ns)."""
    try:
        st = os.stat(path)
        return [frame, st.st_size, st.st_mtime_ns]
    except (OSError, ValueError):
        return [frame, -1, -1]


class Store:
    """Append-only JSON-lines store of finished frames, with an index of byte offsets.

    Each line: the frame's sidecar dict plus ``"_batch": {"key", "seconds", "n_sites"}``.
    The index keeps, per frame name, the offset and key of its latest line.
    """

    def __init__(self, path, *, fresh=False):
        self.path = Path(path)
        self.index = {}          # frame -> (offset, key)
        self.dropped = 0         # unreadable lines skipped (torn tail, corruption)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fresh and self.path.exists():
            self.path.unlink()
        self._scan()
        self._f = open(self.path, "ab")

    def _scan(self):
        if not self.path.exists():
            return
        good_end = 0
        with open(self.path, "rb") as f:
            offset = 0
            for raw in f:
                end = offset + len(raw)
                complete = raw.endswith(b"\n")
                try:
                    d = json.loads(raw) if complete else None
                    key = d["_batch"]["key"]
                    self.index[d["frame"]] = (offset, key)
                    good_end = end
                except (ValueError, KeyError, TypeError):
                    self.dropped += 1
                    if complete:
                        good_end = end   # a bad line in the middle: skip it, keep what follows
                offset = end
        if good_end < offset:           # torn tail (killed mid-write): cut it off before appending
            with open(self.path, "r+b") as f:
                f.truncate(good_end)

    def has(self, key):
        got = self.index.get(key[0])
        return got is not None and list(got[1]) == list(key)

    def append(self, sidecar, extras, key):
        line = dict(sidecar)
        line["_batch"] = {"key": list(key), "seconds": extras.get("seconds"), "n_sites": extras.get("n_sites", 0)}
        data = (json.dumps(_clean(line), allow_nan=False, separators=(",", ":")) + "\n").encode("utf-8")
        offset = self._f.seek(0, os.SEEK_END)
        self._f.write(data)
        self._f.flush()
        os.fsync(self._f.fileno())
        self.index[sidecar["frame"]] = (offset, list(key))

    def read(self, frame):
        offset, _ = self.index[frame]
        with open(self.path, "rb") as f:
            f.seek(offset)
            return json.loads(f.readline())

    def iter_lines(self, frames):
        """Yield the stored dict of each frame in ``frames`` (in that order) that is stored."""
        with open(self.path, "rb") as f:
            for name in frames:
                got = self.index.get(name)
                if got is None:
                    continue
                f.seek(got[0])
                yield json.loads(f.readline())

    def close(self):
        with contextlib.suppress(Exception):
            self._f.close()


def result_from_line(d):
    """A :class:`FrameResult` from a store line (seconds and n_sites restored)."""
    r = FrameResult.from_sidecar(d)
    b = d.get("_batch") or {}
    if b.get("seconds") is not None:
        r.seconds = float(b["seconds"])
    if b.get("n_sites"):
        r.n_sites = int(b["n_sites"])
    return r


# --------------------------------------------------------------------------
# tables, parquet, summary aggregates
# --------------------------------------------------------------------------

_INT_COLS = {"n_joints", "n_sites", "n_fail", "n_missing", "n_extra", "n_bridge", "n_misaligned", "n_hip",
             "n_void", "via_count", "joint_id", "grid_row", "grid_col", "void_count", "partial", "repaired_px"}
_STR_COLS = {"frame", "package", "status", "error", "verdict", "polarity", "profile", "schema_version",
             "kind", "defects", "classifier_label"}


@contextlib.contextmanager
def _atomic_open(path):
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".part", dir=path.parent)
    try:
        # backslashreplace: a frame name from a non-UTF-8 file name (lone surrogates) is written
        # as \udcff escapes so the tables stay valid UTF-8 instead of crashing the batch
        with os.fdopen(fd, "w", encoding="utf-8", newline="", errors="backslashreplace") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class _ParquetSink:
    """Row dicts -> a parquet file in batches, with a fixed schema (no type drift between batches)."""

    def __init__(self, path, columns, batch=20000):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa, self.columns, self.batch = pa, columns, batch
        types = {c: pa.string() if c in _STR_COLS else pa.int64() if c in _INT_COLS else pa.float64()
                 for c in columns}
        self.schema = pa.schema([(c, types[c]) for c in columns])
        self.path = Path(path)
        self.tmp = self.path.with_name("." + self.path.name + ".part")
        self.writer = pq.ParquetWriter(str(self.tmp), self.schema)
        self.rows = []

    def add(self, row):
        self.rows.append(row)
        if len(self.rows) >= self.batch:
            self._flush()

    def _conv(self, c, v):
        if v == "" or v is None:
            return None
        if c in _STR_COLS:
            return str(v).encode("utf-8", "backslashreplace").decode("utf-8")
        try:
            return int(v) if c in _INT_COLS else float(v)
        except (TypeError, ValueError):
            return None

    def _flush(self):
        if not self.rows:
            return
        arrays = [self.pa.array([self._conv(c, r.get(c)) for r in self.rows], type=self.schema.field(c).type)
                  for c in self.columns]
        self.writer.write_table(self.pa.Table.from_arrays(arrays, schema=self.schema))
        self.rows = []

    def close(self):
        self._flush()
        self.writer.close()
        os.replace(self.tmp, self.path)


class Aggregate:
    """Batch statistics gathered while streaming the store: bounded memory."""

    WORST = 24
    FAILED = 24

    def __init__(self):
        self.n_frames = self.n_ok = self.n_error = self.n_pass = self.n_fail = self.n_joints = 0
        self.defects = Counter()
        self.defect_frames = Counter()
        self.errors = Counter()          # error reason (first 80 chars) -> frames
        self.frame_max_void = []         # (frame, max_void_pct) in frame order, ok frames
        # the control charts judge each joint kind against its own limit: balls and QFN pins
        # against ball_void_pct, thermal pads against pad_void_pct (a 40 % pad passes)
        self.frame_ball_void = []        # (frame, largest ball/pin void %) in frame order
        self.frame_pad_void = []         # (frame, thermal pad void %) in frame order, QFN frames
        self.ball_void_hist = [0] * 101  # 1 % bins of ball/pin void %, last bin holds 100
        self.pad_void_hist = [0] * 101
        self.worst = []                  # heap of (score, seq, frame, joint dict)
        self.failed = []                 # first FAILED failed frames (names)
        self.seconds = []
        self.repaired_frames = 0         # frames whose detector defects (stuck pixels, lines) were filled in
        self.repaired_px = 0
        self._seq = 0

    def add(self, d, row):
        self.n_frames += 1
        rep = int(d.get("repaired_px") or 0)
        self.repaired_frames += rep > 0
        self.repaired_px += rep
        if d.get("status") != "ok":
            self.n_error += 1
            self.errors[(d.get("error") or "")[:80]] += 1
            return
        self.n_ok += 1
        joints = d.get("joints") or []
        self.n_joints += len(joints)
        codes_here = set()
        for j in joints:
            codes = [c for c in (j.get("defects") or []) if c]
            for c in codes:
                self.defects[c] += 1
            codes_here.update(codes)
            v = j.get("void_pct") or 0.0
            hist = self.pad_void_hist if j.get("kind") == "pad" else self.ball_void_hist
            hist[min(100, max(0, int(v)))] += 1
            score = (j.get("verdict") == "fail", v)
            slim = {k: j.get(k) for k in ("joint_id", "kind", "x_px", "y_px", "site_x_px", "site_y_px",
                                          "diameter_px", "void_pct", "largest_void_pct", "verdict",
                                          "defects", "grid_row", "grid_col")}
            self._seq += 1
            item = (score, -self._seq, d["frame"], slim)
            if len(self.worst) < self.WORST:
                heapq.heappush(self.worst, item)
            elif item[:2] > self.worst[0][:2]:
                heapq.heapreplace(self.worst, item)
        for c in codes_here:
            self.defect_frames[c] += 1
        if row.get("verdict") == "fail":
            self.n_fail += 1
            if len(self.failed) < self.FAILED:
                self.failed.append(d["frame"])
        else:
            self.n_pass += 1
        mv = row.get("max_void_pct")
        self.frame_max_void.append((d["frame"], float(mv) if mv not in ("", None) else 0.0))
        ball = [float(j.get("void_pct") or 0.0) for j in joints if j.get("kind") != "pad"]
        pad = [float(j.get("void_pct") or 0.0) for j in joints if j.get("kind") == "pad"]
        if ball or not pad:             # a frame with only a pad has no ball/pin value to chart
            self.frame_ball_void.append((d["frame"], max(ball, default=0.0)))
        if pad:
            pv = row.get("pad_void_pct")
            self.frame_pad_void.append((d["frame"], float(pv) if pv not in ("", None) else max(pad)))

    def worst_joints(self):
        return [(f, j) for _, _, f, j in sorted(self.worst, reverse=True)]


def write_tables_from_store(out, store, frames, *, fmt="csv", aggregate=None):
    """Regenerate ``frames.csv``/``joints.csv`` (and parquet) from the store, streaming.

    Parameters
    ----------
    out : path
    store : Store
    frames : list of str
        Frame names in table order; those not stored yet are left out.
    fmt : {"csv", "parquet"}
    aggregate : Aggregate, optional
        Fed every (store line, frame row) on the way.
    """
    out = Path(out)
    sinks = []
    if fmt == "parquet":
        sinks = [_ParquetSink(out / "frames.parquet", FRAME_COLUMNS), _ParquetSink(out / "joints.parquet", JOINT_COLUMNS)]
    with _atomic_open(out / "frames.csv") as ff, _atomic_open(out / "joints.csv") as jf:
        fw = csv.DictWriter(ff, fieldnames=FRAME_COLUMNS, extrasaction="ignore", lineterminator="\n")
        jw = csv.DictWriter(jf, fieldnames=JOINT_COLUMNS, extrasaction="ignore", lineterminator="\n")
        fw.writeheader()
        jw.writeheader()
        for d in store.iter_lines(frames):
            r = result_from_line(d)
            row = r.frame_row()
            fw.writerow(row)
            if sinks:
                sinks[0].add(row)
            if r.status == "ok":
                for jrow in r.joint_rows():
                    jw.writerow(jrow)
                    if sinks:
                        sinks[1].add(jrow)
            if aggregate is not None:
                aggregate.add(d, row)
    for s in sinks:
        s.close()


# --------------------------------------------------------------------------
# progress
# --------------------------------------------------------------------------


class Progress:
    """A tqdm bar on a terminal, log lines otherwise, nothing when quiet.

    ``mode``: ``"auto"`` (bar if stderr is a TTY, else log), ``"bar"``, ``"log"`` or ``"none"``.
    """

    def __init__(self, total, mode="auto", *, every_n=50, every_s=10.0, stream=None):
        self.stream = stream or sys.stderr
        if mode in (None, True, "auto"):
            mode = "bar" if getattr(self.stream, "isatty", lambda: False)() else "log"
        self.mode = "none" if mode is False else mode
        self.total, self.done, self.failed, self.errors = total, 0, 0, 0
        self.every_n, self.every_s = every_n, every_s
        self.t0 = self.t_last = time.monotonic()
        self.n_last = 0
        self.bar = None
        if self.mode == "bar":
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="frame", file=self.stream, dynamic_ncols=True)

    def update(self, verdict):
        self.done += 1
        self.failed += verdict == "fail"
        self.errors += verdict == "error"
        if self.bar is not None:
            self.bar.set_postfix(fail=self.failed, error=self.errors, refresh=False)
            self.bar.update(1)
        elif self.mode == "log":
            now = time.monotonic()
            if self.done - self.n_last >= self.every_n or now - self.t_last >= self.every_s or self.done == self.total:
                self.log(self.line(now))
                self.t_last, self.n_last = now, self.done

    def line(self, now=None):
        dt = (now or time.monotonic()) - self.t0
        rate = self.done / dt if dt > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else math.nan
        eta_s = f"{eta:.0f} s" if math.isfinite(eta) else "?"
        return (f"scored {self.done}/{self.total} frames, {rate:.2f} frames/s, ETA {eta_s}, "
                f"{self.failed} failed, {self.errors} errors")

    def log(self, msg):
        if self.mode == "none":
            return
        if self.bar is not None:
            self.bar.write(msg, file=self.stream)
        else:
            print(f"xrayinspect: {msg}", file=self.stream, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------
# backends: each yields (item, sidecar, extras) as frames finish
# --------------------------------------------------------------------------


@dataclass
class _Item:
    path: str
    frame: str
    key: list


def _crashed(item, why="worker crashed"):
    return error_result(item.frame, f"{item.path}: {why} while scoring this frame").sidecar(), \
        {"seconds": math.nan, "n_sites": 0, "crashed": True}


def _run_inprocess(items, task_kw):
    for it in items:
        sc, ex = score_task(it.path, it.frame, **task_kw)
        yield it, sc, ex


def _mp_context():
    import multiprocessing as mp
    methods = mp.get_all_start_methods()
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


def _run_pool(items, task_kw, workers):
    """Local process pool with crash isolation (see module docstring)."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = _mp_context()
    pending = deque(items)
    suspects = deque()      # frames that were in flight when a worker died: run one at a time
    inflight = {}           # future -> (item, isolated)
    window = max(2, 2 * workers)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_one_thread_worker)
    try:
        while pending or suspects or inflight:
            broken = False
            try:
                if suspects:
                    if not inflight:
                        it = suspects[0]
                        inflight[pool.submit(score_task, it.path, it.frame, **task_kw)] = (it, True)
                        suspects.popleft()
                else:
                    while pending and len(inflight) < window:
                        it = pending[0]
                        inflight[pool.submit(score_task, it.path, it.frame, **task_kw)] = (it, False)
                        pending.popleft()
            except BrokenProcessPool:      # the pool died before we saw a failed future
                broken = True
            done = () if broken else wait(list(inflight), timeout=1.0, return_when=FIRST_COMPLETED)[0]
            for fut in done:
                it, isolated = inflight.pop(fut)
                try:
                    sc, ex = fut.result()
                except BrokenProcessPool:
                    broken = True
                    if isolated:
                        yield (it, *_crashed(it))
                    else:
                        suspects.append(it)
                    continue
                except Exception as e:   # e.g. a result that cannot be pickled
                    sc, ex = error_result(it.frame, f"{it.path}: could not be scored ({type(e).__name__}: {e})").sidecar(), {}
                yield it, sc, ex
            if broken:
                for fut, (it, isolated) in list(inflight.items()):
                    suspects.append(it)
                inflight.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_one_thread_worker)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _dask_score_task(path, frame, **kw):
    """:func:`score_task` on a Dask worker, with OpenCV on one thread.

    A Dask worker runs one frame per worker thread, as a pool worker does,
    but never ran the pool's initializer: OpenCV's own threads on top made
    each frame take twice the CPU on a 2-core machine (47 % below the pool's
    throughput). Setting it is cheap and idempotent, so every task does it.
    """
    _one_thread_worker()
    return score_task(path, frame, **kw)


def _import_distributed():
    try:
        import distributed
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] in ("distributed", "dask"):
            raise BatchError(f"--dask needs dask.distributed: {DASK_HINT}") from None
        raise
    return distributed


def _run_dask(items, task_kw, workers, address, log):
    """Submit frames (as paths) to a Dask cluster; results stream back as they finish."""
    distributed = _import_distributed()
    cluster = None
    if address == "local":
        import dask

        # the nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which makes
        # glibc mmap (and page-fault afresh) every frame-sized temporary array,
        # and the workers sample their own stacks every 10 ms: together about
        # 1.8x the CPU per frame of a pool worker. Neither helps a batch of
        # independent frames; the thread limits are kept.
        environ = {k: v for k, v in (dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {}).items()
                   if k != "MALLOC_TRIM_THRESHOLD_"}
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ,
                              "distributed.worker.profile.enabled": False}):
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                               dashboard_address=None)
        client = distributed.Client(cluster)
    else:
        try:
            client = distributed.Client(address, timeout="20s")
        except (OSError, TimeoutError) as e:
            raise BatchError(f"cannot reach the Dask scheduler at {address}: {e}") from None
    try:
        nthreads = sum(client.nthreads().values()) or workers
        log(f"dask: {len(client.nthreads())} workers, {nthreads} threads at {client.scheduler.address}")
        window = max(4, 2 * nthreads)
        pending = deque(items)
        ac = distributed.as_completed()
        owner = {}

        def submit(it):
            fut = client.submit(_dask_score_task, os.path.abspath(it.path), it.frame, pure=False, **task_kw)
            owner[fut.key] = it
            ac.add(fut)

        for _ in range(min(window, len(pending))):
            submit(pending.popleft())
        for fut in ac:
            it = owner.pop(fut.key)
            try:
                sc, ex = fut.result()
            except distributed.KilledWorker:
                sc, ex = _crashed(it, "dask worker crashed (KilledWorker)")
            except Exception as e:
                sc, ex = error_result(it.frame, f"{it.path}: could not be scored on dask ({type(e).__name__}: {e})").sidecar(), {}
            fut.release()
            if pending:
                submit(pending.popleft())
            yield it, sc, ex
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --------------------------------------------------------------------------
# settings, run.json
# --------------------------------------------------------------------------


def _settings(recipe, profile_obj, classifier, max_pixels):
    """The settings that change scores: a rerun with others must use force."""
    from .recipe import recipe_to_toml

    prof = None
    if profile_obj is not None:
        prof = {"name": profile_obj.name, "version": profile_obj.version,
                "limits": {k: v for k, v in asdict(profile_obj.limits).items() if k != "explicit"}}
    return {
        "recipe": recipe_to_toml(recipe) if recipe is not None else None,
        "recipe_source": getattr(recipe, "source", None) if recipe is not None else None,
        "profile": prof,
        "classifier": None if classifier is None else (os.fspath(classifier) if isinstance(classifier, (str, os.PathLike))
                                                       else type(classifier).__name__),
        "max_pixels": max_pixels,
    }


_COMPARED = ("recipe", "profile", "classifier", "max_pixels")


def _check_rerun(run_path, settings):
    try:
        old = json.loads(Path(run_path).read_text(encoding="utf-8"))["settings"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    changed = [k for k in _COMPARED if old.get(k) != settings.get(k)]
    if changed:
        raise BatchError(
            f"{run_path.parent.parent}: an earlier run there used a different {', '.join(changed)}; "
            "its results would mix with these. Use --force to score everything again, or another --out folder")


# --------------------------------------------------------------------------
# run_batch
# --------------------------------------------------------------------------


def _as_recipe(recipe):
    if recipe is None or not isinstance(recipe, (str, os.PathLike)):
        return recipe
    from .recipe import load_recipe
    return load_recipe(recipe)


def _as_profile(profile):
    from .profiles import get_profile
    return get_profile("ipc-a-610e" if profile is None else profile) if not hasattr(profile, "limits") else profile


def _lock(state_dir):
    """An exclusive lock on the output folder for this run (POSIX); released on exit or kill."""
    f = open(Path(state_dir) / "lock", "a+")
    try:
        import fcntl
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:
        pass
    except OSError:
        f.close()
        raise BatchError(f"{Path(state_dir).parent}: another xrayinspect run is writing there; wait for it "
                         "or use another --out folder") from None
    return f


def run_batch(inputs, out, *, recipe=None, profile=None, workers=None, dask=None, force=False, progress=None,
              fmt="csv", overlays=False, classifier=None, max_pixels=None, report=True, scorer=None,
              argv=None):
    """Score every frame under ``inputs`` into ``out``; resumable, memory-flat.

    Parameters
    ----------
    inputs : path or list of paths
        Files and folders (searched recursively, see :func:`xrayinspect.io.iter_frames`).
    out : path
        Output folder (created). Gets ``frames.csv``, ``joints.csv``,
        ``sidecars/``, ``summary.json``, ``report.html``, ``.state/``.
    recipe : Recipe or path, optional
    profile : str, path or RuleProfile, optional
        Rule profile (default ``"ipc-a-610e"``).
    workers : int, optional
        Processes (default: CPU count). 1 scores in this process.
    dask : {None, "local", "tcp://host:port"}
        Score on a Dask cluster instead of a local pool.
    force : bool
        Score every frame again, ignoring (and replacing) the store.
    progress : {None, "auto", "bar", "log", "none"} or bool
    fmt : {"csv", "parquet"}
        ``"parquet"`` also writes ``frames.parquet``/``joints.parquet``.
    overlays : bool
        Write ``out/overlays/<frame>.png`` for each frame scored ok.
    classifier : "default", path or object with ``predict_proba``, optional
    max_pixels : int, optional
        Refuse larger frames (error rows).
    report : bool
        Write ``report.html``.
    scorer : callable or "module:function", optional
        Replaces :func:`xrayinspect.pipeline.score_file` (same signature);
        must be importable by worker processes.
    argv : list of str, optional
        The command line, recorded in ``run.json``.

    Returns
    -------
    BatchSummary

    Raises
    ------
    BatchError
        No frames found, an input that does not exist, settings that differ
        from the earlier run in ``out`` (without ``force``), an output folder
        that cannot be written, a missing extra.
    RecipeError
        A bad recipe or profile.
    """
    from . import io as xio

    t_start = time.monotonic()
    if fmt not in ("csv", "parquet"):
        raise BatchError(f"format must be 'csv' or 'parquet', got {fmt!r}")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ModuleNotFoundError:
            raise BatchError(f"--format parquet needs pyarrow: {PARQUET_HINT}") from None
    if dask is not None and dask != "local" and not str(dask).startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        raise BatchError(f"--dask takes 'local' or a scheduler address like tcp://host:8786, got {dask!r}")
    if dask is not None:
        _import_distributed()
    workers = int(workers) if workers else (os.cpu_count() or 1)
    if workers < 1:
        raise BatchError(f"workers must be at least 1, got {workers}")

    recipe = _as_recipe(recipe)
    profile_obj = _as_profile(profile)
    if isinstance(classifier, (str, os.PathLike)):
        try:
            _load_classifier(classifier)  # fail early in the parent: missing torch (ImportError), bad model
        except (FileNotFoundError, ValueError) as e:
            raise BatchError(f"--classifier {classifier}: {e}") from None

    inputs = [inputs] if isinstance(inputs, (str, bytes, os.PathLike)) else list(inputs)
    if not inputs:
        raise BatchError("no inputs given")
    missing = [str(p) for p in inputs if not os.path.exists(p)]
    if missing:
        raise BatchError(f"input not found: {', '.join(missing[:5])}")
    found = list(xio.iter_frames(inputs))
    if not found:
        raise BatchError(f"no frames found under {', '.join(map(str, inputs))} "
                         f"(looked for {' '.join(xio.FRAME_SUFFIXES)})")
    # a frame name reached twice (same relative name under two inputs) would collide in the tables
    seen, items = set(), []
    for path, name in found:
        if name in seen:
            base, n = name, 2
            while f"{base}#{n}" in seen:
                n += 1
            name = f"{base}#{n}"
        seen.add(name)
        items.append(_Item(str(path), name, None))

    out = Path(out)
    state = out / STATE_DIR
    try:
        state.mkdir(parents=True, exist_ok=True)
        (out / "sidecars").mkdir(exist_ok=True)
        probe = state / ".write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise BatchError(f"{out}: output folder not writable ({e.strerror or e})") from None
    lock = _lock(state)
    store = None
    try:
        settings = _settings(recipe, profile_obj, classifier, max_pixels)
        run_path = state / RUN_NAME
        if not force:
            _check_rerun(run_path, settings)
        atomic_write_text(run_path, json.dumps({
            "xrayinspect_version": __version__, "schema_version": SCHEMA_VERSION,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "argv": argv, "inputs": [os.path.abspath(p) for p in inputs], "out": str(out.resolve()),
            "workers": workers, "dask": dask, "format": fmt, "overlays": bool(overlays), "force": bool(force),
            "settings": settings}, indent=1))

        store = Store(state / STORE_NAME, fresh=force)
        todo = []
        for it in items:
            it.key = frame_key(it.path, it.frame)
            if force or not store.has(it.key):
                todo.append(it)
        names = [it.frame for it in items]
        summary = BatchSummary(out=str(out), workers=workers, n_resumed=len(items) - len(todo),
                               profile=f"{profile_obj.name}@{profile_obj.version}",
                               backend=("dask " + dask) if dask else ("in-process" if workers == 1 else "process pool"))
        prog = Progress(len(todo), progress)
        if store.dropped:
            prog.log(f"store: dropped {store.dropped} unreadable line(s) (interrupted write); those frames are scored again")
        if summary.n_resumed:
            prog.log(f"resuming: {summary.n_resumed} of {len(items)} frames already scored; scoring {len(todo)}")

        overlay_dir = out / "overlays" if overlays else None
        if overlay_dir is not None:
            overlay_dir.mkdir(exist_ok=True)
        task_kw = {"recipe": recipe, "profile": profile if profile is None else profile_obj,
                   "classifier": classifier, "max_pixels": max_pixels, "scorer": scorer}
        if dask:
            task_kw["overlay_bytes"] = bool(overlays)
            results = _run_dask(todo, task_kw, workers, dask, prog.log)
        else:
            task_kw["overlay_dir"] = str(overlay_dir) if overlay_dir else None
            results = _run_inprocess(todo, task_kw) if workers == 1 else _run_pool(todo, task_kw, workers)

        since, t_tables, last_table_cost = 0, time.monotonic(), 0.0
        try:
            for it, sc, ex in results:
                png = ex.pop("overlay_png", None)
                if png is not None:
                    atomic_write_bytes(overlay_dir / overlay_name(it.frame), png)
                if ex.get("overlay_error"):
                    prog.log(f"{it.frame}: overlay not drawn ({ex['overlay_error']})")
                if ex.get("crashed"):
                    summary.n_crashed += 1
                    prog.log(f"{it.frame}: worker crashed; marked as error, pool restarted")
                atomic_write_text(out / "sidecars" / sidecar_name(it.frame),
                                  json.dumps(_clean(sc), allow_nan=False))
                store.append(sc, ex, it.key)
                summary.n_scored += 1
                if ex.get("seconds") is not None and math.isfinite(ex["seconds"]):
                    summary.score_seconds += ex["seconds"]
                prog.update(sc.get("verdict", "error"))
                since += 1
                now = time.monotonic()
                if since >= TABLE_EVERY and now - t_tables >= 10 * last_table_cost:
                    write_tables_from_store(out, store, names, fmt="csv")
                    last_table_cost = time.monotonic() - now
                    t_tables, since = time.monotonic(), 0
        finally:
            close = getattr(results, "close", None)
            if close:
                close()     # ends the pool / cluster when interrupted
            prog.close()

        agg = Aggregate()
        write_tables_from_store(out, store, names, fmt=fmt, aggregate=agg)
        summary.n_frames, summary.n_ok, summary.n_error = agg.n_frames, agg.n_ok, agg.n_error
        summary.n_pass, summary.n_fail, summary.n_joints = agg.n_pass, agg.n_fail, agg.n_joints
        summary.defects = {c: agg.defects[c] for c in DEFECT_CODES if agg.defects[c]}
        summary.defect_frames = {c: agg.defect_frames[c] for c in DEFECT_CODES if agg.defect_frames[c]}
        summary.seconds = time.monotonic() - t_start
        limits = _limits(recipe, profile_obj)
        _write_summary(out, summary, agg, limits)
        if report:
            from .report import write_report
            write_report(out, agg, summary, limits=limits, store=store, paths={it.frame: it.path for it in items},
                         max_pixels=max_pixels)
        prog.log(f"done: {summary.n_frames} frames ({summary.n_scored} scored now, {summary.n_resumed} resumed), "
                 f"{summary.n_pass} pass, {summary.n_fail} fail, {summary.n_error} error "
                 f"in {summary.seconds:.1f} s -> {out}")
        return summary
    finally:
        if store is not None:
            store.close()
        lock.close()


def _limits(recipe, profile_obj):
    if recipe is not None:
        from .profiles import apply_profile
        lim = apply_profile(recipe, profile_obj).limits
    else:
        lim = profile_obj.limits
    return {k: v for k, v in asdict(lim).items() if k != "explicit"}


def _write_summary(out, s, agg, limits):
    pareto = sorted(s.defects.items(), key=lambda kv: (-kv[1], kv[0]))
    doc = {
        "xrayinspect_version": __version__, "schema_version": SCHEMA_VERSION,
        "frames": s.n_frames, "ok": s.n_ok, "error": s.n_error, "pass": s.n_pass, "fail": s.n_fail,
        "joints": s.n_joints,
        "yield_pct": None if not s.n_ok else round(s.yield_pct, 3),
        "defect_pareto": [{"code": c, "joints": n, "frames": s.defect_frames.get(c, 0)} for c, n in pareto],
        "errors": [{"reason": r, "frames": n} for r, n in agg.errors.most_common(20)],
        "detector_defects": {"frames": agg.repaired_frames, "pixels_filled": agg.repaired_px},
        "profile": s.profile, "limits": limits,
        "timings": {"wall_s": round(s.seconds, 3), "score_s": round(s.score_seconds, 3),
                    "frames_scored_now": s.n_scored, "frames_resumed": s.n_resumed,
                    "frames_per_s": round(s.n_scored / s.seconds, 3) if s.seconds > 0 else None,
                    "backend": s.backend, "workers": s.workers},
        "crashed": s.n_crashed,
    }
    atomic_write_text(Path(out) / "summary.json", json.dumps(doc, indent=1, allow_nan=False))
