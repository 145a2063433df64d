"""The review scene of the docs screenshot: two scored synthetic frames open in the Review widget.

:func:`scored_folder` writes a folder as ``xrayinspect score`` does;
:func:`stage_review` opens it in a viewer's Review widget and walks to a
voided joint, as an operator would. ``tests/napari/test_render.py`` renders
the scene into its temporary folder; ``scripts/screenshot_napari.py`` renders
the same scene into ``docs/images/napari_review.png``, so tests never write
into the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["scored_folder", "stage_review"]


def scored_folder(folder, seeds=(3, 4), shape=(384, 384)):
    """Score synthetic BGA frames and write them as a ``score`` output folder.

    Calls come from the real scorer, or from simulator truth for a frame it
    finds nothing in, so the scene always has joints to review.

    Parameters
    ----------
    folder : path
        Receives ``frames/`` (the raw frames) and ``out/`` (frames.csv,
        joints.csv, sidecars/, run.json pointing at ``frames/``).
    seeds : sequence of int
        One synthetic frame per seed.
    shape : (int, int)
        Frame size, px.

    Returns
    -------
    out : Path
    results : list of FrameResult
    """
    from ..io import write_frame
    from ..napari_plugin._layers import result_from_truth
    from ..pipeline import score_frame
    from ..results import write_sidecar, write_tables
    from ..synth import generate_frame

    folder = Path(folder)
    inp, out = folder / "frames", folder / "out"
    inp.mkdir(parents=True, exist_ok=True)
    results = []
    for i, seed in enumerate(seeds):
        f = generate_frame(seed, package="bga", shape=shape, export="tiff16", polarity="dark", rows=10, cols=10)
        name = f"board_{i}.tif"
        write_frame(inp / name, f.image)
        r = score_frame(f.image, frame=name)
        if r.status != "ok" or not r.joints:
            r = result_from_truth(f.truth, frame=name)
        results.append(r)
    write_tables(out, results)
    for r in results:
        write_sidecar(out, r)
    (out / "run.json").write_text(json.dumps({"inputs": [str(inp)]}))
    return out, results


def stage_review(viewer, out, results, wait, *, size=(1600, 1000)):
    """Open ``out`` in a docked Review widget and zoom to a voided joint of the first frame.

    Parameters
    ----------
    viewer : napari.Viewer
        Shown (a hidden window renders no dock widgets).
    out : path
        A folder from :func:`scored_folder`.
    results : list of FrameResult
        Its results, to pick the joints to visit.
    wait : callable
        ``wait(ms)`` lets Qt paint for ``ms`` milliseconds (``qtbot.wait`` in
        tests).
    size : (int, int)
        Window width and height, px.

    Returns
    -------
    review : ReviewWidget
    failing : list of int
        Failing joints of the first frame that have a contour.
    shown : JointResult
        The joint the camera is centred on.
    """
    from ..napari_plugin._widgets import ReviewWidget

    viewer.window._qt_window.resize(*size)
    review = ReviewWidget(viewer)
    viewer.window.add_dock_widget(review, name="Review", area="right")
    review.operator.value = "ana"
    review.open_output(str(out))
    failing = [j.joint_id for j in results[0].joints if j.verdict == "fail" and j.contour]
    if not failing:
        return review, failing, None
    review.select_joint(failing[0])
    review.reason.value = "confirmed on oblique view"
    review.toggle_defect("hip")
    voided = [j.joint_id for j in results[0].joints if j.defects == ["void"] and j.contour] or failing
    review.select_joint(voided[0])
    review.sort_by("void_pct")
    wait(200)
    shown = review._joint(voided[0])
    viewer.camera.zoom = viewer.camera.zoom / 2.0            # show the neighbourhood too
    viewer.camera.center = (shown.y_px, shown.x_px)
    wait(300)
    return review, failing, shown
