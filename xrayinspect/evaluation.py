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
