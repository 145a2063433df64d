#!/usr/bin/env python
"""Write the shipped sample data: a small deterministic set from the simulator.

Usage: python scripts/make_sample_data.py [OUT]   (default: sample_data/)

Every frame comes with its truth (``.truth.json``) and recipe
(``.recipe.toml``); ``README.md`` lists what each frame holds and the calls
expected, ``SHA256SUMS`` the checksums. Seeds here are sample seeds, never
used to tune or evaluate the scorer.
"""

import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xrayinspect.io import write_frame  # noqa: E402
from xrayinspect.synth import dict_to_toml, generate_frame  # noqa: E402

#: name, seed, generate_frame arguments, what the frame shows
FRAMES = [
    ("bga_dark_16bit", 5001, dict(package="bga", export="tiff16", polarity="dark", rows=16, cols=16, tilt_deg=1.0),
     "16x16 BGA, solder dark (as transmitted), 16-bit TIFF"),
    ("bga_bright_8bit", 5002, dict(package="bga", export="png8", polarity="bright", rows=14, cols=14, tilt_deg=1.0),
     "14x14 BGA, solder bright (inverted display), 8-bit PNG"),
    ("bga_jpeg_tiled", 5003, dict(package="bga", export="jpeg8", polarity="dark", rows=18, cols=18, tiled=True,
                                  tilt_deg=0.5), "18x18 BGA, 8-bit JPEG stitched from tiles with black borders"),
    ("bga_oblique", 5004, dict(package="bga", export="tiff16", polarity="dark", rows=12, cols=12, tilt_deg=35.0),
     "12x12 BGA seen at 35 degrees: balls are ellipses, pads separate"),
    ("bga_defects", 5005, dict(package="bga", export="tiff16", polarity="dark", rows=20, cols=20, tilt_deg=1.0),
     "20x20 BGA with defects"),
    ("bga_ct_slice", 5008, dict(package="bga", export="tiff16", modality="ct", rows=12, cols=12),
     "12x12 BGA as a CT slice through the balls: bright solder on dark, edge halos, streaks"),
    ("qfn_dark_16bit", 5006, dict(package="qfn", export="tiff16", polarity="dark"),
     "QFN: thermal pad with voids, perimeter pins, 16-bit TIFF"),
    ("qfn_bright_8bit", 5007, dict(package="qfn", export="png8", polarity="bright"),
     "QFN, solder bright, 8-bit PNG"),
]
SIZE = (640, 640)


def main(out="sample_data"):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# Sample data", "",
             "Made by `python scripts/make_sample_data.py` from the simulator (deterministic; regenerate",
             "and compare with `sha256sum -c SHA256SUMS`). Each frame has its truth (`.truth.json`, exact",
             "per-joint ground truth) and its recipe (`.recipe.toml`). Score them all with",
             "`xrayinspect score sample_data --out out/`.", "",
             "| frame | what it shows | joints | expected defects (truth) | frame verdict |",
             "|---|---|---|---|---|"]
    files = []
    for name, seed, kw, what in FRAMES:
        f = generate_frame(seed, shape=SIZE, **kw)
        path = out / (name + f.suffix)
        write_frame(path, f.image, pixel_size_um=f.truth["pixel_size_um"], bits_used=f.truth["detector"]["bits_used"])
        (out / f"{name}.truth.json").write_text(json.dumps(f.truth, indent=1))
        (out / f"{name}.recipe.toml").write_text(dict_to_toml(f.recipe))
        files += [path, out / f"{name}.truth.json", out / f"{name}.recipe.toml"]
        counts = {}
        for t in f.truth["joints"]:
            if t.get("partial"):
                continue
            for c in t["defects"]:
                counts[c] = counts.get(c, 0) + 1
        n = sum(1 for t in f.truth["joints"] if "missing" not in t["defects"])
        defects = ", ".join(f"{c} x{k}" for c, k in sorted(counts.items())) or "none"
        lines.append(f"| `{path.name}` | {what} | {n} | {defects} | {f.truth['frame_verdict']} |")
    lines += ["", "Codes are those of `joints.csv`; `void` follows the IPC-A-610E limits of the recipes",
              "(25 % total, 15 % largest void per ball; 50 % for a QFN pad).", ""]
    (out / "README.md").write_text("\n".join(lines))
    sums = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in sorted(files)]
    (out / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    total = sum(p.stat().st_size for p in files)
    print(f"wrote {len(FRAMES)} frames to {out} ({total / 1e6:.1f} MB)")


if __name__ == "__main__":
    main(*sys.argv[1:])
