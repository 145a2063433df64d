"""Inspect and Review dock widgets (magicgui Containers; the only Qt code).

Both take ``viewer`` first and ``run_async`` as a keyword: tests pass
``run_async=False`` to score synchronously. Sub-widgets are attributes, so a
test can set ``.value`` and call the handlers (``run()``, ``set_verdict()``,
``toggle_defect()``, ``next_joint()``, ``save()``, ``open_output()``).
"""

import logging
import math
from pathlib import Path

import numpy as np
from magicgui.widgets import (CheckBox, ComboBox, Container, FileEdit, FloatSpinBox, Label, LineEdit,
                              ProgressBar, PushButton, SpinBox)
from qtpy.QtCore import Qt
from qtpy.QtGui import QImage, QKeySequence, QPixmap, QShortcut
from qtpy.QtWidgets import (QAbstractItemView, QLabel, QListWidget, QListWidgetItem, QTableWidget,
                            QTableWidgetItem)

from ._layers import ROLE_KEY, call_color, joint_features, label_colormap, parse_defects, result_to_layers

log = logging.getLogger(__name__)


def _role(layer):
    md = getattr(layer, "metadata", None) or {}
    return md.get(ROLE_KEY) or {}


def _add_layers(viewer, tuples):
    from napari.layers import Layer

    added = []
    for data, kw, kind in tuples:
        layer = Layer.create(data, kw, kind)
        viewer.add_layer(layer)
        added.append(layer)
    return added


def _remove_frame_layers(viewer, frame, roles=("joints", "voids", "sites")):
    for layer in list(viewer.layers):
        md = _role(layer)
        if md.get("frame") == frame and md.get("role") in roles:
            viewer.layers.remove(layer)


# ===================================================================== Inspect
class InspectWidget(Container):
    """Score the frame of an image layer and show its calls.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
    run_async : bool
        Score in a napari ``thread_worker`` (default); False scores in the
        calling thread (tests).
    """

    def __init__(self, viewer, *, run_async=True):
        super().__init__(labels=True)
        self.viewer = viewer
        self.run_async = run_async
        self.image_layer = ComboBox(label="image", choices=self._image_choices, nullable=True)
        self.recipe_file = FileEdit(label="recipe file", mode="r", filter="*.toml", value="")
        self.package = ComboBox(label="package", choices=["auto", "bga", "qfn"], value="auto")
        self.rows = SpinBox(label="rows (0: infer)", min=0, max=200, value=0)
        self.cols = SpinBox(label="cols (0: infer)", min=0, max=200, value=0)
        self.pitch_mm = FloatSpinBox(label="pitch mm (0: infer)", min=0.0, max=10.0, step=0.05, value=0.0)
        self.run_button = PushButton(text="Run")
        self.progress = ProgressBar(label="", min=0, max=1, value=0, visible=False)
        self.status = Label(value="")
        self.extend([self.image_layer, self.recipe_file, self.package, self.rows, self.cols, self.pitch_mm,
                     self.run_button, self.progress, self.status])
        self.run_button.changed.connect(self.run)
        self.result = None
        self.worker = None
        for ev in (viewer.layers.events.inserted, viewer.layers.events.removed):
            ev.connect(self._refresh_choices)
        self._refresh_choices()

    def _refresh_choices(self, *_):
        self.image_layer.reset_choices()
        if self.image_layer.value is None:
            choices = self._image_choices()
            if choices:
                self.image_layer.value = choices[-1][1]

    def _image_choices(self, *_):
        from napari.layers import Image

        return [(layer.name, layer) for layer in self.viewer.layers if isinstance(layer, Image)]

    def recipe(self):
        """The recipe from the file, or from the fields, or None (infer everything)."""
        from ..recipe import load_recipe, parse_recipe

        path = str(self.recipe_file.value or "")
        if path and path != "." and Path(path).is_file():
            return load_recipe(path)
        if self.package.value == "auto":
            return None
        pkg = {"type": self.package.value}
        if self.package.value == "bga":
            if self.rows.value:
                pkg["rows"] = int(self.rows.value)
            if self.cols.value:
                pkg["cols"] = int(self.cols.value)
        if self.pitch_mm.value:
            pkg["pitch_mm"] = float(self.pitch_mm.value)
        return parse_recipe({"package": pkg}, source="<inspect widget>")

    def run(self, *_):
        """Score the chosen image layer; layers are added (or replaced) when done."""
        layer = self.image_layer.value
        if layer is None:
            self.status.value = "no image layer"
            return None
        md = _role(layer)
        extra = {k: md[k] for k in ("review_dir", "out") if md.get(k)}
        extra["image_path"] = md.get("image_path") or md.get("path", "")
        return self.score(np.asarray(layer.data), frame=md.get("frame") or layer.name, extra=extra)

    def score(self, image, *, frame, extra=None):
        """Score ``image`` with :func:`xrayinspect.pipeline.score_frame` and show the result.

        Returns the FrameResult (``run_async=False``) or the started worker.
        """
        from ..pipeline import score_frame

        try:
            recipe = self.recipe()
        except Exception as exc:
            self.status.value = f"recipe: {exc}"
            return None
        self.status.value = f"scoring {frame} ..."
        self.progress.visible = True
        self.progress.max = 0        # busy indicator
        self.run_button.enabled = False
        shape = tuple(image.shape)

        def job():
            return score_frame(image, recipe=recipe, frame=frame)

        if not self.run_async:
            try:
                result = job()
            except Exception as exc:
                self._failed(exc)
                return None
            self._done(result, shape, extra)
            return result
        from napari.qt.threading import thread_worker

        self.worker = thread_worker(job)()
        self.worker.returned.connect(lambda r: self._done(r, shape, extra))
        self.worker.errored.connect(self._failed)
        self.worker.start()
        return self.worker

    def _failed(self, exc):
        self.progress.max = 1
        self.progress.visible = False
        self.run_button.enabled = True
        self.status.value = f"scoring failed: {exc}"

    def _done(self, result, shape, extra):
        self.progress.max = 1
        self.progress.value = 1
        self.progress.visible = False
        self.run_button.enabled = True
        self.result = result
        if result.status != "ok":
            self.status.value = f"{result.frame}: {result.error}"
            return
        _remove_frame_layers(self.viewer, result.frame)
        self.show(result, shape, extra)
        self.status.value = f"{result.frame}: {result.verdict}, {len(result.joints)} joints, {result.n_fail} failed"

    def show(self, result, shape=None, extra=None):
        """Add the layers of ``result`` (joints, voids, sites), replaying any saved review."""
        review = {}
        rd = (extra or {}).get("review_dir")
        if rd:
            from .review import ReviewStore
            review = ReviewStore(rd).calls().get(result.frame, {})
        return _add_layers(self.viewer, result_to_layers(result, shape=shape or result.shape, review=review,
                                                         extra_metadata=extra))


# ===================================================================== Review
TABLE_COLUMNS = ["joint_id", "kind", "verdict", "defects", "void_pct", "largest_void_pct", "hip_score",
                 "offset_px", "reviewed"]
_NUMERIC = {"joint_id", "void_pct", "largest_void_pct", "hip_score", "offset_px"}
KEYS = {"P": "pass", "F": "fail", "H": "hip", "B": "bridge", "V": "void", "M": "misaligned",
        "N": "next", "Shift+N": "previous"}


class ReviewWidget(Container):
    """Review joint calls: table, next/previous failing or borderline joint, overrides, audit log.

    Overrides are appended to ``review_log.jsonl`` at once and change the
    joints layer's ``features`` and colours at once; **Save** writes
    ``joints_reviewed.csv`` (history kept). With a scored output folder
    (**Open output**) it moves frame to frame, loading calls from the
    sidecars.
    """

    def __init__(self, viewer, *, run_async=True):
        super().__init__(labels=True)
        self.viewer = viewer
        self.run_async = run_async
        self.operator = LineEdit(label="operator", value="")
        self.reason = LineEdit(label="reason", value="")
        self.joints_layer = ComboBox(label="joints layer", choices=self._joint_choices, nullable=True)
        self.review_dir = FileEdit(label="review folder", mode="d", value="")
        self.out_dir = FileEdit(label="scored output", mode="d", value="")
        self.frames_dir = FileEdit(label="frames folder", mode="d", value="")
        self.open_button = PushButton(text="Open output")
        self.only_flagged = CheckBox(text="next/prev: failing or borderline only", value=True)
        self.prev_button = PushButton(text="◀ Prev (Shift+N)")
        self.next_button = PushButton(text="Next ▶ (N)")
        self.pass_button = PushButton(text="Pass (P)")
        self.fail_button = PushButton(text="Fail (F)")
        self.hip_button = PushButton(text="HiP (H)")
        self.bridge_button = PushButton(text="Bridge (B)")
        self.void_button = PushButton(text="Void (V)")
        self.accept_frame_button = PushButton(text="Accept rest of frame")
        self.save_button = PushButton(text="Save")
        self.export_dir = FileEdit(label="training set", mode="d", value="")
        self.export_button = PushButton(text="Export training set")
        self.current = Label(value="no joint selected")
        self.status = Label(value="")
        nav = Container(layout="horizontal", widgets=[self.prev_button, self.next_button], labels=False)
        calls = Container(layout="horizontal", widgets=[self.pass_button, self.fail_button, self.hip_button,
                                                        self.bridge_button, self.void_button], labels=False)
        self.extend([self.operator, self.joints_layer, self.review_dir, self.out_dir, self.frames_dir,
                     self.open_button, self.only_flagged, nav, self.current, calls, self.reason,
                     self.accept_frame_button, self.save_button, self.export_dir, self.export_button, self.status])
        # Qt parts: frame list, joint table, crop
        self.frame_list = QListWidget()
        self.frame_list.setMaximumHeight(110)
        self.frame_list.setVisible(False)
        self.table = QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setHorizontalHeaderLabels(TABLE_COLUMNS)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(180)
        self.crop_view = QLabel()
        self.crop_view.setFixedSize(160, 160)
        self.crop_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.crop_view.setStyleSheet("background: black")
        self.native.setMaximumWidth(560)
        lay = self.native.layout()
        lay.insertWidget(6, self.frame_list)
        lay.insertWidget(9, self.crop_view, alignment=Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(self.table)

        self.layer = None          # the joints Labels layer under review
        self.result = None         # its FrameResult (auto calls)
        self.frame = None
        self.joint_id = None
        self.store = None
        self.output = None         # ScoredOutput in batch mode
        self._batch_layers = []
        self._crop_ref = None

        self.open_button.changed.connect(lambda *_: self.open_output())
        self.prev_button.changed.connect(lambda *_: self.next_joint(-1))
        self.next_button.changed.connect(lambda *_: self.next_joint(+1))
        self.pass_button.changed.connect(lambda *_: self.set_verdict("pass"))
        self.fail_button.changed.connect(lambda *_: self.set_verdict("fail"))
        self.hip_button.changed.connect(lambda *_: self.toggle_defect("hip"))
        self.bridge_button.changed.connect(lambda *_: self.toggle_defect("bridge"))
        self.void_button.changed.connect(lambda *_: self.toggle_defect("void"))
        self.accept_frame_button.changed.connect(lambda *_: self.accept_frame())
        self.save_button.changed.connect(lambda *_: self.save())
        self.export_button.changed.connect(lambda *_: self.export())
        self.joints_layer.changed.connect(self._on_layer_choice)
        self.table.itemSelectionChanged.connect(self._on_table_selection)
        self.frame_list.currentItemChanged.connect(self._on_frame_item)
        for ev in (viewer.layers.events.inserted, viewer.layers.events.removed):
            ev.connect(self._refresh_choices)
        self._bind_keys()
        self._refresh_choices()

    # ------------------------------------------------------------ layers
    def _joint_choices(self, *_):
        return [(layer.name, layer) for layer in self.viewer.layers if _role(layer).get("role") == "joints"]

    def _refresh_choices(self, *_):
        self.joints_layer.reset_choices()
        choices = self._joint_choices()
        if choices and (self.joints_layer.value is None or self.joints_layer.value is not self.layer):
            want = self.joints_layer.value or choices[-1][1]
            if self.layer is None or self.layer not in self.viewer.layers:
                self.joints_layer.value = choices[-1][1]
            elif self.joints_layer.value is None:
                self.joints_layer.value = want
        if self.layer is not None and self.layer not in self.viewer.layers:
            self.layer = None

    def _on_layer_choice(self, layer):
        if layer is not None and layer is not self.layer:
            self.set_layer(layer)

    def set_layer(self, layer):
        """Review the joints of ``layer`` (a joints Labels layer from this plugin)."""
        md = _role(layer)
        if md.get("role") != "joints" or md.get("result") is None:
            raise ValueError(f"layer {layer.name!r} is not an xrayinspect joints layer")
        self.layer, self.result, self.frame = layer, md["result"], md.get("frame")
        self.joint_id = None
        rd = str(self.review_dir.value or "")
        if md.get("review_dir") and (rd in ("", ".") or self.output is not None):
            self.review_dir.value = md["review_dir"]
        self._open_store()
        self._replay_into_layer()
        for key in KEYS:     # a Labels layer binds P (preserve labels) itself; ours wins on this layer
            try:
                layer.bind_key(key.replace("+", "-"), lambda lay, k=key: self.handle_key(k), overwrite=True)
            except Exception as exc:  # pragma: no cover
                log.debug("could not bind %s on the layer: %s", key, exc)
        self._fill_table()
        self.status.value = f"{self.frame}: {len(self.result.joints)} joints"
        if self.joints_layer.value is not layer:
            self.joints_layer.value = layer

    def _review_path(self):
        rd = str(self.review_dir.value or "")
        if rd in ("", "."):
            rd = str(Path.home() / "xrayinspect-review")
            self.review_dir.value = rd
        return Path(rd)

    def _open_store(self):
        from .review import ReviewStore

        rd = str(self.review_dir.value or "")
        self.store = ReviewStore(rd) if rd not in ("", ".") else None
        if self.store is not None and self.store.problems:
            self.status.value = "; ".join(self.store.problems[:2])

    def _store(self):
        from .review import ReviewStore

        path = self._review_path()
        if self.store is None or self.store.dir != path:
            self.store = ReviewStore(path)
        return self.store

    def _replay_into_layer(self):
        review = self.store.calls().get(self.frame, {}) if self.store is not None else {}
        if review:
            feats = joint_features(self.result, review)
            self._set_features(feats)

    def _features(self):
        f = self.layer.features
        return {c: f[c].tolist() for c in f.columns}

    def _set_features(self, feats):
        import pandas as pd

        self.layer.features = pd.DataFrame(feats)
        self.layer.colormap = label_colormap(feats)
        self._update_sites(feats)

    def _update_sites(self, feats):
        for layer in self.viewer.layers:
            md = _role(layer)
            if md.get("role") == "sites" and md.get("frame") == self.frame and len(layer.data):
                calls = dict(zip(feats["index"], zip(feats["verdict"], feats["defects"])))
                cols = np.asarray(layer.face_color).copy()
                ids = layer.features["joint_id"].tolist()
                for i, jid in enumerate(ids):
                    if jid + 1 in calls and "missing" in parse_defects(calls[jid + 1][1]):
                        cols[i] = call_color("fail", ["missing"])
                layer.face_color = cols

    # ------------------------------------------------------------ calls
    def _joint(self, joint_id):
        return next((j for j in self.result.joints if int(j.joint_id) == int(joint_id)), None)

    def call(self, joint_id):
        """Current (final) call of a joint: ``{"verdict", "defects", "reviewed"}``."""
        f = self.layer.features
        rows = f.index[f["index"] == int(joint_id) + 1]
        if len(rows):
            r = f.loc[rows[0]]
            return {"verdict": r["verdict"], "defects": parse_defects(r["defects"]), "reviewed": bool(r["reviewed"])}
        j = self._joint(joint_id)
        calls = self.store.calls().get(self.frame, {}) if self.store else {}
        c = calls.get(int(joint_id))
        if c:
            return {"verdict": c["verdict"], "defects": c["defects"], "reviewed": True}
        return {"verdict": j.verdict, "defects": list(j.defects), "reviewed": False}

    def apply_call(self, joint_id, verdict, defects, *, reason=None, action=None):
        """Set a joint's final call: log it, then update features, colours and table."""
        if self.layer is None:
            raise RuntimeError("no joints layer under review")
        joint_id = int(joint_id)
        before = self.call(joint_id)
        to = {"verdict": verdict, "defects": parse_defects(defects)}
        entry = self._store().record(self.frame, joint_id, before, to, operator=self.operator.value,
                                     reason=self.reason.value if reason is None else reason, action=action)
        feats = self._features()
        if joint_id + 1 in feats["index"]:
            i = feats["index"].index(joint_id + 1)
            feats["verdict"][i] = to["verdict"]
            feats["defects"][i] = ";".join(to["defects"])
            feats["reviewed"][i] = True
            feats["operator"][i] = entry["operator"]
            feats["reason"][i] = entry["reason"]
            self._set_features(feats)
        else:       # a missing site (no contour): only the sites layer shows it
            self._update_sites(feats)
        self._update_row(joint_id)
        self._show_current()
        self._mark_frame_item()
        self.reason.value = ""
        return entry

    def set_verdict(self, verdict, joint_id=None):
        """P / F: pass clears the defect codes; fail keeps them."""
        jid = self.joint_id if joint_id is None else joint_id
        if jid is None:
            self.status.value = "select a joint first"
            return None
        c = self.call(jid)
        return self.apply_call(jid, verdict, [] if verdict == "pass" else c["defects"])

    def toggle_defect(self, code, joint_id=None):
        """H / B / V: toggle a code; the verdict follows (fail with any code, else pass)."""
        jid = self.joint_id if joint_id is None else joint_id
        if jid is None:
            self.status.value = "select a joint first"
            return None
        c = self.call(jid)
        codes = [d for d in c["defects"] if d != code] if code in c["defects"] else c["defects"] + [code]
        return self.apply_call(jid, "fail" if codes else "pass", codes)

    def accept_frame(self):
        """Log that the operator accepts every call of this frame not changed yet."""
        if self.frame is None:
            return None
        e = self._store().confirm_frame(self.frame, operator=self.operator.value, reason=self.reason.value)
        self._mark_frame_item()
        self.status.value = f"{self.frame}: accepted"
        return e

    # ------------------------------------------------------------ navigation
    def queue(self):
        """Joint ids to step through: failing or borderline (or all), by joint id."""
        from .review import is_borderline

        ids = []
        for j in self.result.joints:
            c = self.call(j.joint_id)
            if not self.only_flagged.value or c["verdict"] == "fail" or c["defects"] or is_borderline(j):
                ids.append(int(j.joint_id))
        return ids

    def next_joint(self, step=+1):
        """Go to the next (step=+1) or previous (-1) joint of :meth:`queue`, wrapping."""
        if self.layer is None:
            return None
        q = self.queue()
        if not q:
            self.status.value = "nothing to review in this frame"
            return None
        if self.joint_id in q:
            i = (q.index(self.joint_id) + step) % len(q)
        else:
            later = [k for k in q if (self.joint_id is None or (k > self.joint_id if step > 0 else k < self.joint_id))]
            i = q.index(later[0] if step > 0 else later[-1]) if later else (0 if step > 0 else len(q) - 1)
        self.select_joint(q[i])
        return q[i]

    def select_joint(self, joint_id):
        """Make ``joint_id`` current: centre and zoom the camera on it, show its crop, select its row."""
        j = self._joint(joint_id)
        if j is None:
            return
        self.joint_id = int(joint_id)
        x, y = (j.x_px, j.y_px) if math.isfinite(j.x_px) else (j.site_x_px, j.site_y_px)
        d = j.diameter_px if j.diameter_px > 0 else (self.result.pitch_px if math.isfinite(self.result.pitch_px)
                                                      else 16.0)
        if math.isfinite(x) and math.isfinite(y):
            self.viewer.camera.center = (y, x)
            h, w = getattr(self.viewer, "_canvas_size", (600, 800))
            self.viewer.camera.zoom = max(0.1, min(h, w) / (6.0 * max(d, 4.0)))
        try:
            self.layer.selected_label = self.joint_id + 1
        except Exception:
            pass
        self._show_crop(j, x, y, d)
        self._show_current()
        self._select_row(self.joint_id)

    def _image(self):
        for layer in self.viewer.layers:
            md = _role(layer)
            if md.get("role") == "image" and md.get("frame") == self.frame:
                return np.asarray(layer.data)
        return None

    def _show_crop(self, j, x, y, d):
        from .export import crop_joint

        image = self._image()
        if image is None or not (math.isfinite(x) and math.isfinite(y)):
            self.crop_view.clear()
            return
        crop = crop_joint(image, x, y, max(d, 4.0) * 1.5).astype(np.float64)
        lo, hi = np.percentile(crop, [1, 99])
        g = np.clip((crop - lo) / (hi - lo if hi > lo else 1.0) * 255, 0, 255).astype(np.uint8)
        g = np.ascontiguousarray(g)
        qimg = QImage(g.data, g.shape[1], g.shape[0], g.shape[1], QImage.Format.Format_Grayscale8).copy()
        self._crop_ref = g
        self.crop_view.setPixmap(QPixmap.fromImage(qimg).scaled(
            160, 160, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))

    def _show_current(self):
        if self.joint_id is None:
            self.current.value = "no joint selected"
            return
        j = self._joint(self.joint_id)
        c = self.call(self.joint_id)
        auto = f"{j.verdict} {';'.join(j.defects) or '-'}"
        final = f"{c['verdict']} {';'.join(c['defects']) or '-'}"
        off = f"{j.offset_px:.1f} px" if math.isfinite(j.offset_px) else "-"
        self.current.value = (f"joint {j.joint_id} ({j.kind}) void {j.void_pct:.1f}% hip {j.hip_score:.2f} "
                              f"offset {off}\nauto: {auto} | now: {final}"
                              + (" (reviewed)" if c["reviewed"] else ""))

    # ------------------------------------------------------------ table
    def _row_values(self, j):
        c = self.call(j.joint_id)
        return {"joint_id": int(j.joint_id), "kind": j.kind, "verdict": c["verdict"],
                "defects": ";".join(c["defects"]), "void_pct": j.void_pct, "largest_void_pct": j.largest_void_pct,
                "hip_score": j.hip_score, "offset_px": j.offset_px, "reviewed": "yes" if c["reviewed"] else ""}

    def _set_row(self, row, values):
        for col, name in enumerate(TABLE_COLUMNS):
            v = values[name]
            item = QTableWidgetItem()
            if name in _NUMERIC:
                fv = float(v) if v is not None and v == v else float("nan")
                item.setData(Qt.ItemDataRole.DisplayRole, int(fv) if name == "joint_id" else round(fv, 2))
            else:
                item.setText(str(v))
            if name == "verdict":
                r, g, b, _ = call_color(values["verdict"], values["defects"])
                item.setForeground(QColor_from(r, g, b))
            self.table.setItem(row, col, item)

    def _fill_table(self):
        self.table.setSortingEnabled(False)
        self.table.clearContents()
        self.table.setRowCount(len(self.result.joints))
        for i, j in enumerate(self.result.joints):
            self._set_row(i, self._row_values(j))
        self.table.setSortingEnabled(True)

    def _find_row(self, joint_id):
        for r in range(self.table.rowCount()):
            it = self.table.item(r, 0)
            if it is not None and int(it.data(Qt.ItemDataRole.DisplayRole)) == int(joint_id):
                return r
        return None

    def _update_row(self, joint_id):
        r = self._find_row(joint_id)
        if r is None:
            return
        self.table.setSortingEnabled(False)
        self._set_row(r, self._row_values(self._joint(joint_id)))
        self.table.setSortingEnabled(True)

    def _select_row(self, joint_id):
        r = self._find_row(joint_id)
        if r is not None and self.table.currentRow() != r:
            self.table.blockSignals(True)
            self.table.selectRow(r)
            self.table.blockSignals(False)
            self.table.scrollToItem(self.table.item(r, 0))

    def sort_by(self, column, descending=True):
        """Sort the table by a column name (void_pct, hip_score, offset_px, verdict, ...)."""
        self.table.sortItems(TABLE_COLUMNS.index(column),
                             Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder)

    def table_joint_ids(self):
        """Joint ids in table order (as sorted now)."""
        return [int(self.table.item(r, 0).data(Qt.ItemDataRole.DisplayRole)) for r in range(self.table.rowCount())]

    def _on_table_selection(self):
        rows = self.table.selectionModel().selectedRows()
        if rows:
            jid = int(self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.DisplayRole))
            if jid != self.joint_id:
                self.select_joint(jid)

    # ------------------------------------------------------------ batch
    def open_output(self, out=None, frames_dir=None):
        """Open a folder scored by ``xrayinspect score`` and show its first unreviewed frame."""
        from .outdir import ScoredOutput
        from .review import ReviewStore, review_dir_for_output

        out = out or str(self.out_dir.value or "")
        fd = frames_dir or str(self.frames_dir.value or "")
        fd = None if fd in ("", ".") else fd
        try:
            self.output = ScoredOutput(out, frames_dir=fd)
        except ValueError as exc:
            self.status.value = str(exc)
            return None
        self.out_dir.value = out
        self.review_dir.value = str(review_dir_for_output(out))
        self.store = ReviewStore(self.review_dir.value)
        self.frame_list.blockSignals(True)
        self.frame_list.clear()
        for f in self.output.frames:
            self.frame_list.addItem(QListWidgetItem(f))
        self.frame_list.blockSignals(False)
        self.frame_list.setVisible(True)
        self._mark_frame_items()
        done = self.store.reviewed_frames()
        ok = [r["frame"] for r in self.output.frame_rows if r.get("status") == "ok"]
        first = next((f for f in ok if f not in done), ok[0] if ok else None)
        if first is not None:
            self.show_frame(first)
        return self.output

    def show_frame(self, frame):
        """Batch mode: replace the shown frame by ``frame`` (calls from its sidecar)."""
        from ._io_hooks import output_layers

        for layer in self._batch_layers:
            if layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
        fd = self.output.frames_dir
        tuples = output_layers(self.output.out, frame, frames_dir=fd)
        if not tuples:
            self.status.value = f"{frame}: no sidecar (status error?)"
            return []
        self._batch_layers = _add_layers(self.viewer, tuples)
        joints = next(lay for lay in self._batch_layers if _role(lay).get("role") == "joints")
        self.set_layer(joints)
        if not any(_role(lay).get("role") == "image" for lay in self._batch_layers):
            self.status.value = f"{frame}: raw frame not found (set the frames folder)"
        else:
            self.viewer.reset_view()
        row = self.output.frames.index(frame)
        self.frame_list.blockSignals(True)
        self.frame_list.setCurrentRow(row)
        self.frame_list.blockSignals(False)
        return self._batch_layers

    def next_frame(self, step=+1):
        if self.output is None:
            return None
        frames = self.output.frames
        i = frames.index(self.frame) if self.frame in frames else -1
        j = (i + step) % len(frames)
        self.show_frame(frames[j])
        return frames[j]

    def _on_frame_item(self, item, *_):
        if item is not None and self.output is not None and item.text().lstrip("✓ ") != self.frame:
            self.show_frame(item.data(Qt.ItemDataRole.UserRole) or item.text())

    def _mark_frame_items(self):
        if self.output is None or self.store is None:
            return
        done = self.store.reviewed_frames()
        rows = {r["frame"]: r for r in self.output.frame_rows}
        for i in range(self.frame_list.count()):
            it = self.frame_list.item(i)
            f = self.output.frames[i]
            it.setData(Qt.ItemDataRole.UserRole, f)
            verdict = rows[f].get("verdict", "")
            it.setText(f"{'✓' if f in done else '·'} {f}  [{verdict}]")

    def _mark_frame_item(self):
        self._mark_frame_items()

    # ------------------------------------------------------------ save / export
    def save(self):
        """Write ``joints_reviewed.csv`` (previous version kept in ``history/``)."""
        store = self._store()
        if self.output is not None:
            rows = self.output.joint_rows()
        elif self.result is not None:
            rows = self.result.joint_rows()
        else:
            return None
        path = store.write_reviewed(rows)
        self.status.value = f"saved {path}"
        return path

    def export(self, dataset_dir=None):
        """Export reviewed joints as a training set (crops + labels.csv + provenance.json)."""
        from .export import export_frames, export_reviewed
        from .review import replay

        ds = dataset_dir or str(self.export_dir.value or "")
        if ds in ("", "."):
            self.status.value = "choose a training-set folder"
            return None
        if self.output is not None:
            prov = export_reviewed(self.output.out, ds, frames_dir=self.output.frames_dir,
                                   review_dir=self._store().dir)
        else:
            image = self._image()
            if image is None:
                self.status.value = "no raw frame to crop from"
                return None
            calls, confirmed = replay(self._store().entries())
            prov = export_frames([{"image": image, "result": self.result, "calls": calls.get(self.frame, {}),
                                   "confirmed": confirmed.get(self.frame),
                                   "image_path": _role(self.layer).get("image_path", "")}], ds)
        self.status.value = f"exported {prov['n_crops']} crops to {ds}"
        return prov

    # ------------------------------------------------------------ keys
    def handle_key(self, key):
        """What a shortcut does: ``"P"``, ``"F"``, ``"H"``, ``"B"``, ``"V"``, ``"M"``, ``"N"``, ``"Shift+N"``."""
        what = KEYS.get(key)
        if what in ("pass", "fail"):
            return self.set_verdict(what)
        if what in ("hip", "bridge", "void", "misaligned"):
            return self.toggle_defect(what)
        if what == "next":
            return self.next_joint(+1)
        if what == "previous":
            return self.next_joint(-1)
        return None

    def _bind_keys(self):
        self._shortcuts = []
        for key in KEYS:
            sc = QShortcut(QKeySequence(key), self.native)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(lambda k=key: self.handle_key(k))
            self._shortcuts.append(sc)
        # on the canvas too (the viewer keymap; a layer's own bindings come first there)
        for key in KEYS:
            try:
                self.viewer.bind_key(key.replace("+", "-"), lambda v, k=key: self.handle_key(k), overwrite=True)
            except Exception as exc:   # pragma: no cover - napari keymap API drift
                log.debug("could not bind %s: %s", key, exc)


def QColor_from(r, g, b):
    from qtpy.QtGui import QBrush, QColor

    return QBrush(QColor.fromRgbF(min(r, 0.85), min(g, 0.75), min(b, 0.85)))
