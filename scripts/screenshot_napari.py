#!/usr/bin/env python3
"""Screenshot of the napari Review widget for the README: docs/images/napari_review.png.

Usage: xvfb-run -a python scripts/screenshot_napari.py [--png docs/images/napari_review.png]

Scores two small synthetic BGA frames into a temporary folder, opens them in
a real napari viewer with the Review widget docked, walks to a voided joint
(the scene of :mod:`xrayinspect.testing.napari_scene`, which the render test
draws into its own temporary folder) and saves the whole window. Needs the
napari extra and a screen with GL (``xvfb-run`` provides one).
"""

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--png", default=str(ROOT / "docs" / "images" / "napari_review.png"))
    args = ap.parse_args(argv)

    import napari
    from qtpy.QtWidgets import QApplication
    from qtpy.QtCore import QEventLoop, QTimer

    from xrayinspect.testing.napari_scene import scored_folder, stage_review

    def wait(ms):
        loop = QEventLoop()
        QTimer.singleShot(int(ms), loop.quit)
        loop.exec_()

    with tempfile.TemporaryDirectory() as tmp:
        out, results = scored_folder(tmp)
        viewer = napari.Viewer(show=True)
        try:
            _, failing, shown = stage_review(viewer, out, results, wait)
            if shown is None:
                raise SystemExit("no failing joint to show: the scene has nothing to review")
            png = Path(args.png)
            png.parent.mkdir(parents=True, exist_ok=True)
            viewer.screenshot(path=str(png), canvas_only=False, flash=False)
        finally:
            viewer.close()
            QApplication.processEvents()
    print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
