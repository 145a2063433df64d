#!/usr/bin/env python3
"""Screenshot of the batch report: score the sample frames, render report.html headless, save a PNG.

Usage: python scripts/screenshot_report.py [--inputs sample_data] [--out /tmp/xi-report]
                                           [--png docs/images/report.png] [--width 1280] [--height 4000]
                                           [--max-kb 500]

Needs a Chromium (Debian: ``apt-get install -y chromium``; also found as
``chromium-browser``, ``google-chrome``, or set ``CHROMIUM=/path``). The page
has no JavaScript and no network references, so the browser runs with
networking features off. The window is taller than the page and the blank
rows below it are trimmed, so the PNG shows the whole report. A PNG over ``--max-kb`` is downscaled with OpenCV
(to a width of at least 640 px) until it fits.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def find_browser():
    env = os.environ.get("CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(name)
        if p:
            return p
    raise SystemExit("no Chromium found: apt-get install -y chromium (or set CHROMIUM=/path/to/chrome)")


def screenshot(html, png, width, height):
    browser = find_browser()
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="xi-chromium-") as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={width},{height}",
               f"--screenshot={png}", Path(html).resolve().as_uri()]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0 or not png.exists():
        raise SystemExit(f"chromium failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return png


def shrink(png, max_kb, min_width=640):
    """Downscale ``png`` in place (INTER_AREA, max PNG compression) until it is under ``max_kb``."""
    import cv2

    img = cv2.imread(str(png), cv2.IMREAD_COLOR)
    # trim the blank space below the page's end (the window is taller than the page)
    rows = (img.min(axis=(1, 2)) < 250).nonzero()[0]
    if rows.size:
        img = img[: min(img.shape[0], rows[-1] + 1 + 24)]
    params = [cv2.IMWRITE_PNG_COMPRESSION, 9]
    cv2.imwrite(str(png), img, params)
    scale = 1.0
    while png.stat().st_size > max_kb * 1024:
        if _write_paletted(png, img):      # 256 colours: text stays sharp, grey crops barely change
            if png.stat().st_size <= max_kb * 1024 or img.shape[1] * scale * 0.9 < min_width:
                break
        elif img.shape[1] * scale * 0.9 < min_width:
            break
        scale *= 0.9
        img = cv2.resize(img, (round(img.shape[1] * 0.9), round(img.shape[0] * 0.9)), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(png), img, params)
    return png.stat().st_size, scale


def _write_paletted(png, img_bgr):
    """Write ``img_bgr`` as an 8-bit paletted PNG (Pillow, median-cut palette); False without Pillow."""
    try:
        from PIL import Image
    except ImportError:
        return False
    Image.fromarray(img_bgr[..., ::-1].copy()).quantize(256, dither=Image.Dither.NONE).save(png, optimize=True)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--inputs", nargs="+", default=[str(ROOT / "sample_data")])
    ap.add_argument("--out", default=None, help="batch output folder (default: a temp folder)")
    ap.add_argument("--png", default=str(ROOT / "docs" / "images" / "report.png"))
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=4000, help="window height; blank rows below the page are trimmed")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--max-kb", type=int, default=500)
    a = ap.parse_args()

    out = Path(a.out or tempfile.mkdtemp(prefix="xi-report-"))
    cmd = [sys.executable, "-m", "xrayinspect", "score", *a.inputs, "--out", str(out), "--force", "--quiet",
           "--workers", str(a.workers)]
    r = subprocess.run(cmd)
    if r.returncode not in (0, 1):      # 3: some frame errored; still worth a look, but say so
        print(f"warning: score exited {r.returncode}", file=sys.stderr)
    html = out / "report.html"
    if not html.exists():
        raise SystemExit(f"{html} was not written")
    png = screenshot(html, a.png, a.width, a.height)
    size, scale = shrink(png, a.max_kb)
    print(f"{png}: {size / 1024:.0f} KB (scale {scale:.2f}) from {html}")


if __name__ == "__main__":
    main()
