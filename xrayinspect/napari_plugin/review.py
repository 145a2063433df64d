"""Review persistence: an append-only override log and a reviewed joints table (Qt-free).

Layout of a review folder (``OUT/review/`` for a scored output folder,
``<image>.review/`` for a single frame opened on its own)::

    review_log.jsonl          one JSON object per line, append-only
    joints_reviewed.csv       joints.csv columns (verdict/defects = final)
                              + verdict_auto, verdict_final, defects_auto,
                              defects_final, reviewed, operator, reason, reviewed_at
    history/joints_reviewed.<UTC timestamp>.csv   every previous version

A log line (``action`` is ``"override"``; ``"confirm"`` when the call is
kept as it is; ``"confirm_frame"`` with ``joint_id`` null when the operator
accepts every remaining call of a frame)::

    {"time": "2026-11-02T10:31:07.123456Z", "operator": "ana", "frame": "a.tif",
     "joint_id": 12, "from": {"verdict": "pass", "defects": []},
     "to": {"verdict": "fail", "defects": ["void"]}, "reason": "void at edge",
     "action": "override"}

Each line is written with one ``write`` on a file opened for appending,
then flushed and fsynced. A torn last line (a crash mid-write) is skipped
on read, and the next append starts on a fresh line. Replaying the log in
order restores the review state; the CSV is derived and can always be
rebuilt from the log and the auto calls.
"""

import csv
import datetime as _dt
import json
import math
import os
import shutil
from pathlib import Path

from ..results import JOINT_COLUMNS, atomic_write_text, csv_text

LOG_NAME = "review_log.jsonl"
CSV_NAME = "joints_reviewed.csv"
HISTORY_DIR = "history"
REVIEWED_COLUMNS = JOINT_COLUMNS + ["verdict_auto", "verdict_final", "defects_auto", "defects_final",
                                    "reviewed", "operator", "reason", "reviewed_at"]
ACTIONS = ("override", "confirm", "confirm_frame")
VERDICTS = ("pass", "fail")

#: A passing joint is "borderline" (queued for review) at this fraction of a limit.
BORDERLINE_FRAC = 0.8


def utc_now():
    """ISO-8601 UTC time with microseconds and a ``Z``."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def review_dir_for_output(out):
    """Review folder of a scored output folder: ``OUT/review``."""
    return Path(out) / "review"


def review_dir_for_image(image_path):
    """Review folder of a frame opened without an output folder: ``<image>.review``."""
    p = Path(image_path)
    return p.with_name(p.name + ".review")


def _codes(defects):
    if defects is None:
        return []
    if isinstance(defects, str):
        return [c for c in (s.strip() for s in defects.split(";")) if c]
    return [str(c) for c in defects]


def read_log(path):
    """Entries of a review log, in order.

    Returns
    -------
    entries : list of dict
    problems : list of str
        One line per skipped line (a torn last line, or a damaged line).
    """
    path = Path(path)
    entries, problems = [], []
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return entries, problems
    lines = data.split(b"\n")
    for i, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            e = json.loads(raw.decode("utf-8"))
            if not isinstance(e, dict) or "frame" not in e:
                raise ValueError("not a review entry")
        except (ValueError, UnicodeDecodeError) as exc:
            last = i == len(lines) or (i == len(lines) - 1 and not lines[-1])
            kind = "torn last line" if last and not data.endswith(b"\n") else "damaged line"
            problems.append(f"{path}:{i}: {kind} skipped ({type(exc).__name__})")
            continue
        entries.append(e)
    return entries, problems


def replay(entries):
    """Review state from log entries.

    Returns
    -------
    calls : dict
        ``{frame: {joint_id: {"verdict", "defects", "operator", "reason", "time", "action"}}}``:
        the last override or confirmation of each joint.
    confirmed_frames : dict
        ``{frame: {"operator", "time"}}`` for frames confirmed as a whole.
    """
    calls, confirmed = {}, {}
    for e in entries:
        frame = e.get("frame")
        action = e.get("action", "override")
        if action == "confirm_frame":
            confirmed[frame] = {"operator": e.get("operator", ""), "time": e.get("time", "")}
            continue
        try:
            jid = int(e["joint_id"])
            to = e["to"]
        except (KeyError, TypeError, ValueError):
            continue
        calls.setdefault(frame, {})[jid] = {
            "verdict": to.get("verdict", "pass"), "defects": _codes(to.get("defects")),
            "operator": e.get("operator", ""), "reason": e.get("reason", ""), "time": e.get("time", ""),
            "action": action}
    return calls, confirmed


class ReviewStore:
    """The review folder of one output (or one frame): log, reviewed CSV, history.

    Parameters
    ----------
    review_dir : path
        Created on the first write.

    Examples
    --------
    >>> import tempfile
    >>> s = ReviewStore(tempfile.mkdtemp())
    >>> e = s.record("a.tif", 3, {"verdict": "pass", "defects": []}, {"verdict": "fail", "defects": ["void"]},
    ...              operator="ana", reason="large void")
    >>> s.calls()["a.tif"][3]["defects"]
    ['void']
    """

    def __init__(self, review_dir):
        self.dir = Path(review_dir)
        self.problems = []
        self._entries = None

    @property
    def log_path(self):
        return self.dir / LOG_NAME

    @property
    def csv_path(self):
        return self.dir / CSV_NAME

    @property
    def history_dir(self):
        return self.dir / HISTORY_DIR

    # -- log -----------------------------------------------------------------
    def entries(self):
        """All log entries (read once, then kept in step with :meth:`record`)."""
        if self._entries is None:
            self._entries, self.problems = read_log(self.log_path)
        return list(self._entries)

    def record(self, frame, joint_id, from_, to, *, operator="", reason="", action=None, time=None):
        """Append one override (or confirmation) to the log and return the entry.

        Parameters
        ----------
        frame : str
        joint_id : int or None
            None only with ``action="confirm_frame"``.
        from_, to : dict
            ``{"verdict": "pass"|"fail", "defects": [codes]}``.
        operator, reason : str
        action : str, optional
            Default ``"override"``, or ``"confirm"`` when ``to == from_``.
        """
        if action is None:
            same = (from_ or {}).get("verdict") == to.get("verdict") and \
                _codes((from_ or {}).get("defects")) == _codes(to.get("defects"))
            action = "confirm" if same else "override"
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {action!r}")
        if action != "confirm_frame":
            if to.get("verdict") not in VERDICTS:
                raise ValueError(f"to['verdict'] must be one of {VERDICTS}, got {to.get('verdict')!r}")
            joint_id = int(joint_id)
        entry = {"time": time or utc_now(), "operator": str(operator), "frame": str(frame),
                 "joint_id": joint_id,
                 "from": None if from_ is None else {"verdict": from_.get("verdict"),
                                                     "defects": _codes(from_.get("defects"))},
                 "to": None if to is None else {"verdict": to.get("verdict"), "defects": _codes(to.get("defects"))},
                 "reason": str(reason), "action": action}
        self._append(entry)
        if self._entries is not None:
            self._entries.append(entry)
        return entry

    def confirm_frame(self, frame, *, operator="", reason=""):
        """Log that the operator accepts every remaining call of ``frame``."""
        return self.record(frame, None, None, {}, operator=operator, reason=reason, action="confirm_frame")

    def _append(self, entry):
        line = (json.dumps(entry, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size:
                with open(self.log_path, "rb") as f:   # a torn last line: start on a fresh one
                    f.seek(size - 1)
                    if f.read(1) != b"\n":
                        line = b"\n" + line
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- state ---------------------------------------------------------------
    def calls(self):
        """``{frame: {joint_id: final call}}`` replayed from the log."""
        return replay(self.entries())[0]

    def confirmed_frames(self):
        return replay(self.entries())[1]

    def reviewed_frames(self):
        """Frames with any log entry."""
        return {e.get("frame") for e in self.entries()}

    # -- reviewed CSV --------------------------------------------------------
    def reviewed_rows(self, auto_rows):
        """``joints.csv`` rows (auto calls) -> reviewed rows (see :data:`REVIEWED_COLUMNS`)."""
        calls, confirmed = replay(self.entries())
        out = []
        for row in auto_rows:
            frame = row["frame"]
            jid = int(row["joint_id"])
            c = calls.get(frame, {}).get(jid)
            r = dict(row)
            auto_v, auto_d = row["verdict"], ";".join(_codes(row["defects"]))
            fin_v, fin_d = (c["verdict"], ";".join(c["defects"])) if c else (auto_v, auto_d)
            r.update(verdict=fin_v, defects=fin_d, verdict_auto=auto_v, verdict_final=fin_v,
                     defects_auto=auto_d, defects_final=fin_d)
            if c:
                r.update(reviewed=1, operator=c["operator"], reason=c["reason"], reviewed_at=c["time"])
            elif frame in confirmed:
                r.update(reviewed=1, operator=confirmed[frame]["operator"], reason="frame confirmed",
                         reviewed_at=confirmed[frame]["time"])
            else:
                r.update(reviewed=0, operator="", reason="", reviewed_at="")
            out.append(r)
        return out

    def write_reviewed(self, auto_rows):
        """Write ``joints_reviewed.csv`` atomically, keeping the previous version in ``history/``.

        Returns
        -------
        Path
            The CSV written.
        """
        rows = self.reviewed_rows(auto_rows)
        if self.csv_path.exists():
            self.history_dir.mkdir(parents=True, exist_ok=True)
            stamp = utc_now().replace(":", "").replace("-", "")
            dest = self.history_dir / f"joints_reviewed.{stamp}.csv"
            n = 1
            while dest.exists():
                dest = self.history_dir / f"joints_reviewed.{stamp}.{n}.csv"
                n += 1
            # copy under a temporary name and rename: a crash mid-copy never leaves a torn history file
            tmp = self.history_dir / f".{dest.name}.part"
            try:
                shutil.copy2(self.csv_path, tmp)
                os.replace(tmp, dest)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        atomic_write_text(self.csv_path, csv_text(rows, REVIEWED_COLUMNS))
        return self.csv_path

    def history(self):
        """Previous versions of the reviewed CSV, oldest first."""
        if not self.history_dir.is_dir():
            return []
        return sorted(self.history_dir.glob("joints_reviewed.*.csv"))


def read_csv_rows(path):
    """Rows of a CSV file as dicts of strings."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def is_borderline(joint, *, limits=None, frac=BORDERLINE_FRAC):
    """True for a passing joint close to a limit (worth an operator's look).

    ``joint`` is a :class:`~xrayinspect.results.JointResult` or a row dict.
    Close means: void % or largest void % at ``frac`` of its limit, offset at
    ``frac`` of its limit, ``hip_score`` >= 0.3, or ``confidence`` < 0.6.
    """
    from ..recipe import Limits

    lim = limits or Limits()
    g = (lambda k: joint.get(k)) if isinstance(joint, dict) else (lambda k: getattr(joint, k, None))

    def f(k, default=0.0):
        v = g(k)
        try:
            v = float(v)
        except (TypeError, ValueError):
            return default
        return v if math.isfinite(v) else default

    kind = g("kind") or "ball"
    void_lim = lim.pad_void_pct if kind == "pad" else lim.ball_void_pct
    if f("void_pct") >= frac * void_lim:
        return True
    if kind != "pad" and f("largest_void_pct") >= frac * lim.ball_largest_void_pct:
        return True
    d = f("diameter_px")
    if kind == "ball" and d > 0 and f("offset_px") >= frac * lim.offset_frac * 0.5 * d:
        return True
    if f("hip_score") >= 0.3:
        return True
    return f("confidence", 1.0) < 0.6
