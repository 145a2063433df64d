"""A folder written by ``xrayinspect score``: frames, sidecars, raw frame files (Qt-free).

Calls are always loaded from the sidecars (``OUT/sidecars/<name>.json``),
never recomputed.
"""

import json
import os
from pathlib import Path

from ..results import FrameResult, sidecar_name
from .review import read_csv_rows


def is_output_dir(path):
    """True if ``path`` is a folder holding ``frames.csv`` and ``sidecars/``."""
    try:
        p = Path(path)
        return p.is_dir() and (p / "frames.csv").is_file() and (p / "sidecars").is_dir()
    except (OSError, TypeError, ValueError):
        return False


class ScoredOutput:
    """Read-only view of a scored output folder.

    Parameters
    ----------
    out : path
        The folder given to ``xrayinspect score --out``.
    frames_dir : path, optional
        Where the raw frames are; default: the ``inputs`` recorded in
        ``OUT/run.json``.
    """

    def __init__(self, out, frames_dir=None):
        self.out = Path(out)
        if not is_output_dir(self.out):
            raise ValueError(f"out must be a folder with frames.csv and sidecars/, got {str(out)!r}")
        self.frames_dir = Path(frames_dir) if frames_dir else None
        self.frame_rows = read_csv_rows(self.out / "frames.csv")
        self.run = {}
        try:
            self.run = json.loads((self.out / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass

    @property
    def frames(self):
        """Frame names (as in ``frames.csv``), in file order."""
        return [r["frame"] for r in self.frame_rows]

    def frame_row(self, frame):
        return next((r for r in self.frame_rows if r["frame"] == frame), None)

    def sidecar_path(self, frame):
        return self.out / "sidecars" / sidecar_name(frame)

    def load_result(self, frame):
        """The frame's :class:`FrameResult` from its sidecar, or None when there is none."""
        p = self.sidecar_path(frame)
        try:
            return FrameResult.from_sidecar(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def joint_rows(self):
        """Auto calls of every frame: ``joints.csv`` rows, or the sidecars when it is absent."""
        p = self.out / "joints.csv"
        if p.is_file():
            return read_csv_rows(p)
        rows = []
        for f in self.frames:
            r = self.load_result(f)
            if r is not None and r.status == "ok":
                rows += r.joint_rows()
        return rows

    def input_roots(self):
        """Folders (or files) raw frames may be under: the chosen frames folder, then run.json inputs."""
        roots = []
        if self.frames_dir:
            roots.append(self.frames_dir)
        inputs = self.run.get("inputs") or []
        if isinstance(inputs, str):
            inputs = [inputs]
        for i in inputs:
            p = Path(i)
            if not p.is_absolute():
                # relative inputs are relative to where score ran; try the run's cwd, then OUT's parent
                cwd = self.run.get("cwd")
                p = Path(cwd) / p if cwd else self.out.parent / p
            roots.append(p)
        return roots

    def frame_path(self, frame):
        """Path of the raw frame file, or None when it cannot be found."""
        rel = Path(frame)
        for root in self.input_roots():
            try:
                if root.is_file():
                    if root.name == rel.name:
                        return root
                    continue
                cand = root / rel
                if cand.is_file():
                    return cand
                cand = root / rel.name
                if cand.is_file():
                    return cand
            except OSError:
                continue
        return None


def safe_stem(frame):
    """A frame name flattened to a safe file stem (as sidecars are named)."""
    return sidecar_name(frame)[: -len(".json")]


def relpath_or_abs(p, start):
    try:
        return os.path.relpath(p, start)
    except ValueError:
        return str(p)
