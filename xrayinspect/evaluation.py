"""Compare scoring results with simulator truth: matching and accuracy figures.

Used by ``scripts/evaluate.py`` and the accuracy tests. Joints are matched by
centroid (nearest, within half a truth diameter or a third of the pitch);
missing sites by grid position. Joints cut by the frame or a stitching band
(``partial`` in the truth) are left out of every figure.
"""

import numpy as np
from scipy.optimize import linear_sum_assignment

CODES = ("void", "bridge", "missing", "misaligned", "hip", "extra")


def match(truth_joints, result_joints, *, max_dist=None):
    """Pairs ``(t_index, r_index)`` of present joints matched by centroid."""
    tj = [i for i, t in enumerate(truth_joints) if "missing" not in t["defects"]]
    rj = [i for i, j in enumerate(result_joints) if "missing" not in j.defects]
    if not tj or not rj:
        return [], tj, rj
    tp = np.array([[truth_joints[i]["x_px"], truth_joints[i]["y_px"]] for i in tj])
    rp = np.array([[result_joints[i].x_px, result_joints[i].y_px] for i in rj])
    d = np.hypot(tp[:, None, 0] - rp[None, :, 0], tp[:, None, 1] - rp[None, :, 1])
    lim = np.array([max(0.5 * truth_joints[i]["diameter_px"], 2.0) for i in tj])[:, None]
    if max_dist is not None:
        lim = np.minimum(lim, max_dist)
    cost = np.where(d <= lim, d, 1e6)
    ti, ri = linear_sum_assignment(cost)
    pairs = [(tj[a], rj[b]) for a, b in zip(ti, ri) if cost[a, b] < 1e6]
    return pairs, tj, rj


class Tally:
    """Accumulates per-code confusion counts and error lists over frames."""

    def __init__(self):
        self.tp = {c: 0 for c in CODES}
        self.fp = {c: 0 for c in CODES}
        self.fn = {c: 0 for c in CODES}
        self.det = [0, 0, 0]          # tp, fp, fn of present joints
        self.centroid_err = []
        self.void_err = []
        self.void_truth = []
        self.frames = [0, 0]           # correct verdicts, frames
        self.hip_scores = []           # (score, is_hip)
        self.pad_err = []

    def add(self, truth, result):
        """Add one frame: ``truth`` dict (synth truth JSON), ``result`` a FrameResult."""
        tjs = truth["joints"]
        rjs = result.joints if result.status == "ok" else []
        pairs, tj, rj = match(tjs, rjs)
        matched_t = {a for a, _ in pairs}
        matched_r = {b for _, b in pairs}
        for a, b in pairs:
            t, r = tjs[a], rjs[b]
            if t.get("partial") or r.partial:
                continue
            self.det[0] += 1
            self.centroid_err.append(float(np.hypot(t["x_px"] - r.x_px, t["y_px"] - r.y_px)))
            if t["kind"] in ("ball", "pad"):
                self.void_err.append(r.void_pct - t["void_pct"])
                self.void_truth.append(t["void_pct"])
            if t["kind"] == "pad":
                self.pad_err.append(r.void_pct - t["void_pct"])
            if t["kind"] == "ball" and "extra" not in t["defects"]:
                self.hip_scores.append((r.hip_score, "hip" in t["defects"]))
            self._codes(set(t["defects"]), set(r.defects))
        for a in tj:
            if a not in matched_t and not tjs[a].get("partial"):
                self.det[2] += 1
                self._codes(set(tjs[a]["defects"]), set())
        for b in rj:
            if b not in matched_r and not rjs[b].partial:
                self.det[1] += 1
                self._codes(set(), set(rjs[b].defects))
        # missing sites: matched by grid position
        tm = {(t["grid_row"], t["grid_col"]) for t in tjs if "missing" in t["defects"] and t["kind"] == "ball"}
        rm = {(j.grid_row, j.grid_col) for j in rjs if "missing" in j.defects and j.kind == "ball"}
        if tm or rm:
            # grid numbering can differ by a shift on cut frames; match positions instead
            tpos = [(t["x_px"], t["y_px"]) for t in tjs if "missing" in t["defects"] and t["kind"] == "ball"]
            rpos = [(j.x_px, j.y_px) for j in rjs if "missing" in j.defects and j.kind == "ball"]
            pitch = truth.get("scene", {}).get("pitch_px", 20)
            used = set()
            hit = 0
            for p in tpos:
                best = None
                for i, q in enumerate(rpos):
                    d = np.hypot(p[0] - q[0], p[1] - q[1])
                    if i not in used and d < 0.35 * pitch and (best is None or d < best[0]):
                        best = (d, i)
                if best:
                    used.add(best[1])
                    hit += 1
            self.tp["missing"] += hit
            self.fn["missing"] += len(tpos) - hit
            self.fp["missing"] += len(rpos) - hit
        tv = truth.get("frame_verdict")
        if tv:
            self.frames[1] += 1
            self.frames[0] += int(tv == result.verdict)

    def _codes(self, t, r):
        for c in CODES:
            if c == "missing":
                continue
            if c in t and c in r:
                self.tp[c] += 1
            elif c in t:
                self.fn[c] += 1
            elif c in r:
                self.fp[c] += 1

    @classmethod
    def combined(cls, tallies):
        """One Tally holding the counts and error lists of all of ``tallies`` (repeats count again)."""
        out = cls()
        for t in tallies:
            for c in CODES:
                out.tp[c] += t.tp[c]
                out.fp[c] += t.fp[c]
                out.fn[c] += t.fn[c]
            out.det = [a + b for a, b in zip(out.det, t.det)]
            out.frames = [a + b for a, b in zip(out.frames, t.frames)]
            for name in ("centroid_err", "void_err", "void_truth", "hip_scores", "pad_err"):
                getattr(out, name).extend(getattr(t, name))
        return out

    @staticmethod
    def f1(tp, fp, fn):
        if tp + fp + fn == 0:
            return float("nan")
        return 2 * tp / max(2 * tp + fp + fn, 1)

    def summary(self):
        """Dict of the headline figures."""
        ve = np.abs(np.array(self.void_err)) if self.void_err else np.zeros(1)
        out = {
            "joints": self.det[0],
            "detection_f1": self.f1(*self.det),
            "centroid_median_px": float(np.median(self.centroid_err)) if self.centroid_err else float("nan"),
            "void_abs_err_mean_pp": float(ve.mean()),
            "void_abs_err_p95_pp": float(np.percentile(ve, 95)),
            "void_bias_pp": float(np.mean(self.void_err)) if self.void_err else float("nan"),
            "frame_verdict_acc": self.frames[0] / max(self.frames[1], 1),
            "frames": self.frames[1],
        }
        if self.pad_err:
            pe = np.abs(self.pad_err)
            out["pad_void_abs_err_mean_pp"] = float(pe.mean())
            out["pad_void_abs_err_p95_pp"] = float(np.percentile(pe, 95))
        for c in CODES:
            out[f"f1_{c}"] = self.f1(self.tp[c], self.fp[c], self.fn[c])
            out[f"n_{c}"] = self.tp[c] + self.fn[c]
        return out


def bootstrap_intervals(frame_tallies, keys, *, n_boot=1000, level=0.95, seed=0):
    """Percentile intervals of :meth:`Tally.summary` figures, frames resampled with replacement.

    A held-out set of a few dozen frames holds a few dozen cases of each
    defect: an F1 read off it moves by several hundredths from one set to
    the next. Resampling whole frames (the cases of one frame are not
    independent: one scene, one export) says by how much.

    Parameters
    ----------
    frame_tallies : list of Tally
        One per frame.
    keys : iterable of str
        Summary keys to give intervals for (e.g. ``"f1_extra"``,
        ``"void_abs_err_mean_pp"``).
    n_boot : int
        Resamples.
    level : float
        Coverage of the interval (0.95: the 2.5th to 97.5th percentile).
    seed : int
        Seed of the resampling, so a report is reproducible.

    Returns
    -------
    dict
        ``{key: (low, high)}``; ``(nan, nan)`` where no resample has the figure
        (no frames, or no case of that kind in any of them).
    """
    keys = list(keys)
    n = len(frame_tallies)
    nan = (float("nan"), float("nan"))
    if n == 0:
        return {k: nan for k in keys}
    rng = np.random.default_rng(seed)
    draws = {k: [] for k in keys}
    for _ in range(n_boot):
        s = Tally.combined([frame_tallies[i] for i in rng.integers(0, n, n)]).summary()
        for k in keys:
            draws[k].append(s.get(k, float("nan")))
    q = 50 * (1 - level)
    out = {}
    for k in keys:
        v = np.asarray(draws[k], float)
        v = v[np.isfinite(v)]
        out[k] = (float(np.percentile(v, q)), float(np.percentile(v, 100 - q))) if v.size else nan
    return out
