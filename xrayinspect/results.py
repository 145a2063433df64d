"""Per-joint and per-frame results, and how they are written.

The column names and meanings of :data:`FRAME_COLUMNS` and
:data:`JOINT_COLUMNS` up to ``defects`` are the fixed interface
(``docs/interface.md``); further columns are additions. Files are written
atomically: to a temporary file in the same folder, then renamed.
"""

import csv
import io as _io
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ._version import SCHEMA_VERSION, __version__

FRAME_COLUMNS = ["frame", "package", "status", "error", "n_joints", "n_sites", "pitch_px", "angle_deg",
                 "verdict", "n_fail", "max_void_pct", "pad_void_pct",
                 # additions
                 "polarity", "profile", "n_missing", "n_extra", "n_bridge", "n_misaligned", "n_hip", "n_void",
                 "via_count", "seconds", "schema_version", "repaired_px"]
JOINT_COLUMNS = ["frame", "joint_id", "kind", "grid_row", "grid_col", "x_px", "y_px", "site_x_px", "site_y_px",
                 "offset_px", "diameter_px", "area_px", "circularity", "void_pct", "largest_void_pct",
                 "void_count", "verdict", "defects",
                 # additions
                 "hip_score", "confidence", "partial", "via_count", "peak_att", "classifier_label",
                 "classifier_confidence", "array"]
DEFECT_CODES = ("void", "bridge", "missing", "misaligned", "hip", "extra")


@dataclass
class JointResult:
    """Measurements and calls of one joint (or one expected site with no ball).

    Positions and lengths are px, areas px^2, percentages 0-100.
    """

    joint_id: int
    kind: str = "ball"
    grid_row: int = -1
    grid_col: int = -1
    x_px: float = math.nan
    y_px: float = math.nan
    site_x_px: float = math.nan
    site_y_px: float = math.nan
    offset_px: float = math.nan
    diameter_px: float = 0.0
    area_px: float = 0.0
    circularity: float = 0.0
    void_pct: float = 0.0
    largest_void_pct: float = 0.0
    void_count: int = 0
    verdict: str = "pass"
    defects: list = field(default_factory=list)
    hip_score: float = 0.0
    confidence: float = 1.0
    partial: bool = False
    via_count: int = 0
    peak_att: float = 0.0
    classifier_label: str = ""
    classifier_confidence: float = math.nan
    array: int = 0              # which ball array of the frame (0 the first fitted; a frame may show several packages)
    contour: list = field(default_factory=list, repr=False)     # [[x, y], ...] px, for review tools
    void_contours: list = field(default_factory=list, repr=False)

    def row(self, frame):
        """The joint as a ``joints.csv`` row (dict of column to value)."""
        d = asdict(self)
        d["frame"] = frame
        d["defects"] = ";".join(self.defects)
        d["partial"] = int(self.partial)
        return {c: _fmt(d.get(c)) for c in JOINT_COLUMNS}


@dataclass
class FrameResult:
    """Everything scoring says about one frame."""

    frame: str
    package: str = ""
    status: str = "ok"
    error: str = ""
    pitch_px: float = math.nan
    angle_deg: float = math.nan
    n_sites: int = 0
    polarity: str = ""
    profile: str = ""
    pad_void_pct: float = math.nan
    joints: list = field(default_factory=list)
    seconds: float = math.nan
    grid: dict = field(default_factory=dict)        # fitted lattice: origin, steps, rows, cols
    shape: tuple = ()
    hip_judged: bool = True     # False: the frame cannot show head-in-pillow
    sliced: bool = False        # the frame is a slice (CT, laminography), not a radiograph
    annotation_px: int = 0      # pixels of burned-in text / scale bars filled in before scoring
    repaired_px: int = 0        # stuck detector pixels and dead/hot line pixels filled in before scoring
    more_grids: list = field(default_factory=list)  # the lattices of a frame's further arrays (joint ``array`` 1, 2, ...)

    @property
    def n_fail(self):
        return sum(j.verdict == "fail" for j in self.joints)

    @property
    def verdict(self):
        if self.status != "ok":
            return "error"
        return "fail" if self.n_fail else "pass"

    def count(self, code):
        """Joints carrying defect ``code``."""
        return sum(code in j.defects for j in self.joints)

    def frame_row(self):
        """The frame as a ``frames.csv`` row."""
        ok = self.status == "ok"
        # a joint cut by the frame's edge or covered is not judged for voids
        # (its area is a fragment's), so it does not set the frame's largest
        voids = [j.void_pct for j in self.joints if not j.partial]
        d = {
            "frame": self.frame, "package": self.package, "status": self.status, "error": self.error,
            "n_joints": sum(j.area_px > 0 for j in self.joints) if ok else "",
            "n_sites": self.n_sites if ok else "",
            "pitch_px": self.pitch_px if ok else "", "angle_deg": self.angle_deg if ok else "",
            "verdict": self.verdict, "n_fail": self.n_fail if ok else "",
            "max_void_pct": max(voids) if (ok and voids) else (0.0 if ok else ""),
            "pad_void_pct": self.pad_void_pct if (ok and self.package == "qfn") else "",
            "polarity": self.polarity, "profile": self.profile,
            "via_count": sum(j.via_count for j in self.joints) if ok else "",
            "seconds": self.seconds, "schema_version": SCHEMA_VERSION,
            "repaired_px": int(self.repaired_px or 0),
        }
        for code in ("missing", "extra", "bridge", "misaligned", "hip", "void"):
            d[f"n_{code}"] = self.count(code) if ok else ""
        return {c: _fmt(d.get(c)) for c in FRAME_COLUMNS}

    def joint_rows(self):
        return [j.row(self.frame) for j in self.joints]

    def sidecar(self):
        """JSON-ready dict with every joint, its contour and void contours."""
        joints = []
        for j in self.joints:
            d = asdict(j)
            d = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}
            joints.append(d)
        return {"schema_version": SCHEMA_VERSION, "xrayinspect_version": __version__, "frame": self.frame,
                "package": self.package, "status": self.status, "error": self.error,
                "verdict": self.verdict, "polarity": self.polarity, "profile": self.profile,
                "pitch_px": _none(self.pitch_px), "angle_deg": _none(self.angle_deg),
                "pad_void_pct": _none(self.pad_void_pct),
                # n_sites comes from the fitted grid (recipe or inferred) and cannot be recounted
                # from the joints; seconds is frames.csv's timing column: both must survive a reload
                "n_sites": int(self.n_sites or 0), "seconds": _none(_float(self.seconds)),
                "grid": self.grid, "shape": list(self.shape), "hip_judged": bool(self.hip_judged),
                "sliced": bool(self.sliced),
                "annotation_px": int(self.annotation_px or 0), "repaired_px": int(self.repaired_px or 0),
                "more_grids": list(self.more_grids), "joints": joints}

    @classmethod
    def from_sidecar(cls, d):
        """Rebuild a result from :meth:`sidecar` output (no recomputation).

        Every field the sidecar carries comes back, so ``frame_row()`` and
        ``joint_rows()`` of the rebuilt result equal the original's. Sidecars
        written before ``n_sites`` and ``seconds`` were added get ``n_sites``
        counted from the joints on a grid site and ``seconds`` NaN.

        Parameters
        ----------
        d : dict
            A parsed sidecar (``sidecars/<frame>.json``) or a batch store line.

        Returns
        -------
        FrameResult
        """
        joints = []
        for jd in d.get("joints", []):
            jd = {k: (math.nan if v is None and k in _FLOAT_FIELDS else v) for k, v in jd.items()
                  if k in JointResult.__dataclass_fields__}
            joints.append(JointResult(**jd))
        r = cls(frame=d["frame"], package=d.get("package", ""), status=d.get("status", "ok"),
                error=d.get("error", ""), pitch_px=_nan(d.get("pitch_px")), angle_deg=_nan(d.get("angle_deg")),
                polarity=d.get("polarity", ""), profile=d.get("profile", ""),
                pad_void_pct=_nan(d.get("pad_void_pct")), joints=joints, grid=d.get("grid", {}),
                shape=tuple(d.get("shape", ())), seconds=_nan(d.get("seconds")),
                hip_judged=bool(d.get("hip_judged", True)), sliced=bool(d.get("sliced", False)), annotation_px=int(d.get("annotation_px") or 0),
                repaired_px=int(d.get("repaired_px") or 0),
                more_grids=list(d.get("more_grids") or []))
        n_sites = d.get("n_sites")
        r.n_sites = int(n_sites) if n_sites is not None else sum(j.grid_row >= 0 for j in joints)
        return r


_FLOAT_FIELDS = {k for k, f in JointResult.__dataclass_fields__.items() if f.type is float or f.type == "float"}


def _none(x):
    return None if (isinstance(x, float) and not math.isfinite(x)) else x


def _nan(x):
    return math.nan if x is None else float(x)


def _float(x):
    """``x`` as a Python float (numpy scalars included), NaN when it is not a number."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _fmt(v):
    """CSV cell text: rounded floats, empty for NaN/None."""
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            return ""
        return round(float(v), 4)
    if isinstance(v, np.integer):
        return int(v)
    return v


def error_result(frame, reason, package=""):
    """A ``status=error`` frame with a one-line reason."""
    return FrameResult(frame=frame, package=package, status="error", error=" ".join(str(reason).split()))


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, rename.

    The file gets the usual permissions (0666 less the umask), not mkstemp's
    0600, and a reader never sees a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path, text):
    """Write ``text`` as UTF-8 to ``path`` atomically (see :func:`atomic_write_bytes`).

    Lone surrogates (from file names that are not UTF-8) are written as
    ``\\udcXX`` escapes, so the file stays valid UTF-8.
    """
    atomic_write_bytes(path, text.encode("utf-8", "backslashreplace"))


def csv_text(rows, columns):
    """Rows (dicts) as CSV text with a header."""
    buf = _io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def write_tables(out, results):
    """Write ``frames.csv`` and ``joints.csv`` for a list of :class:`FrameResult`."""
    out = Path(out)
    frames = [r.frame_row() for r in results]
    joints = [row for r in results if r.status == "ok" for row in r.joint_rows()]
    atomic_write_text(out / "frames.csv", csv_text(frames, FRAME_COLUMNS))
    atomic_write_text(out / "joints.csv", csv_text(joints, JOINT_COLUMNS))


def sidecar_name(frame):
    """File name of a frame's sidecar: the frame path made flat and safe."""
    import hashlib

    safe = "".join(ch if (ch.isascii() and (ch.isalnum() or ch in "-_.")) else "_" for ch in frame.replace("/", "__"))
    safe = safe.lstrip(".") or "frame"
    # a short hash keeps distinct names distinct after the flattening above
    tag = hashlib.sha1(frame.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{safe[:150]}.{tag}.json"


def write_sidecar(out, result):
    """Write ``out/sidecars/<frame>.json`` atomically; returns its path."""
    path = Path(out) / "sidecars" / sidecar_name(result.frame)
    atomic_write_text(path, json.dumps(result.sidecar(), allow_nan=False, default=_json_default))
    return path


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
