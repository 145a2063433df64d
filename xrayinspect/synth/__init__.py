"""Physics-based X-ray simulator of BGA and QFN joints with exact ground truth.

``generate_frame(seed)`` lays out a package (:mod:`.scene`), renders Beer-
Lambert transmission through analytic solids (:mod:`.render`, coefficients in
:mod:`.materials`), passes it through a detector and export model
(:mod:`.detector`) and returns the pixels with per-joint truth. The same seed
gives the same bytes.

Examples
--------
>>> from xrayinspect.synth import generate_frame
>>> f = generate_frame(3, package="bga", shape=(512, 512))
>>> f.image.dtype.kind, f.image.shape[0] >= 512
('u', True)
>>> all("void_pct" in j for j in f.truth["joints"])
True
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .detector import ct_export, expose, jpeg_roundtrip, tile_with_borders, to_8bit
from .render import render_scene, render_slice
from .scene import DIFFICULTIES, bga_scene, qfn_scene

__all__ = ["SynthFrame", "generate_frame", "write_set", "EXPORTS", "DIFFICULTIES", "dict_to_toml"]

#: Export kinds and the file suffix each is written with.
EXPORTS = {"tiff16": ".tif", "png16": ".png", "png8": ".png", "jpeg8": ".jpg", "tiff8": ".tif"}
LIMITS = {"ball_void_pct": 25.0, "ball_largest_void_pct": 15.0, "pad_void_pct": 50.0, "offset_frac": 0.5}


@dataclass
class SynthFrame:
    """One simulated frame: pixels, truth (JSON-ready) and recipe (TOML-ready)."""

    image: np.ndarray
    truth: dict
    recipe: dict
    suffix: str


def _judge_truth(joints, limits=LIMITS):
    """Add the void code from the truth areas and return the frame verdict."""
    fail = False
    for t in joints:
        if t["kind"] in ("ball", "pin") and "missing" not in t["defects"]:
            lim = (limits["ball_void_pct"], limits["ball_largest_void_pct"])
            if (t["void_pct"] > lim[0] or t["largest_void_pct"] > lim[1]) and "void" not in t["defects"]:
                if t["kind"] == "ball":
                    t["defects"].append("void")
        if t["kind"] == "pad" and t["void_pct"] > limits["pad_void_pct"] and "void" not in t["defects"]:
            t["defects"].append("void")
        t["verdict"] = "fail" if t["defects"] else "pass"
        if t["defects"] and not t.get("partial"):
            fail = True
    return "fail" if fail else "pass"


def generate_frame(seed, *, package="bga", difficulty="normal", shape=None, export=None, polarity=None,
                   bits=None, tilt_deg=None, tiled=None, rows=None, cols=None, defects=True, ss=4,
                   modality="radiograph", underside_parts=False):
    """Simulate one X-ray frame with its ground truth.

    Parameters
    ----------
    seed : int or sequence of int
        Seed of every random choice; the same seed gives identical pixels.
    package : {"bga", "qfn"}
    difficulty : {"easy", "normal", "hard"}
    shape : tuple of int, optional
        ``(height, width)`` in px; 2048x2048 for BGA and 1024x1024 for QFN by default.
    export : str, optional
        One of :data:`EXPORTS`; random (mostly 16-bit TIFF) when not given.
    polarity : {"dark", "bright"}, optional
        ``"dark"``: solder darker (as transmitted); ``"bright"``: inverted.
    bits : int, optional
        ADC bits used in 16-bit exports (12, 14 or 16).
    tilt_deg : float, optional
        Oblique angle of the central ray, degrees (BGA).
    tiled : bool, optional
        Stitch 8-bit exports from tiles with black borders.
    rows, cols : int, optional
        BGA grid size.
    defects : bool
        Place defects (False gives a good board).
    ss : int
        Sub-pixel samples per axis for the joints and their truth.
    modality : {"radiograph", "ct"}
        ``"ct"``: a reconstructed slice through the middle of the balls
        (BGA only): bright solder on dark, edge halos, streaks; the truth
        is then per slice (void % of the ball's cross-section).
    underside_parts : bool
        BGA radiographs: decoupling capacitors on the board's far side,
        under the balls (:func:`~xrayinspect.synth.scene.bga_scene`); the
        scene, export and noise are otherwise those of the same seed
        without them.

    Returns
    -------
    SynthFrame
    """
    if package not in ("bga", "qfn"):
        raise ValueError(f"package must be 'bga' or 'qfn', got {package!r}")
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {difficulty!r}")
    if modality not in ("radiograph", "ct"):
        raise ValueError(f"modality must be 'radiograph' or 'ct', got {modality!r}")
    rng = np.random.default_rng(seed)
    if modality == "ct":
        return _ct_frame(rng, seed, package=package, difficulty=difficulty, shape=shape, export=export,
                         rows=rows, cols=cols, defects=defects, ss=ss)
    if package == "bga":
        shape = shape or (2048, 2048)
        scene = bga_scene(rng, shape=shape, difficulty=difficulty, rows=rows, cols=cols, tilt_deg=tilt_deg,
                          defects=defects, underside_parts=underside_parts)
    else:
        shape = shape or (1024, 1024)
        scene = qfn_scene(rng, shape=shape, difficulty=difficulty, defects=defects)
    transmission, joints = render_scene(scene, ss=ss)
    if polarity is None:
        polarity = "bright" if rng.random() < 0.3 else "dark"
    if export is None:
        export = str(rng.choice(list(EXPORTS), p=[0.5, 0.15, 0.1, 0.2, 0.05]))
    if export not in EXPORTS:
        raise ValueError(f"export must be one of {list(EXPORTS)}, got {export!r}")
    image, det = expose(transmission, rng, difficulty=difficulty, bits=bits, polarity=polarity)
    if export.endswith("8"):
        image = to_8bit(image, rng)
        det["bits_used"] = 8
    quality = None
    if export == "jpeg8":
        quality = int(rng.integers(80, 96) if difficulty != "hard" else rng.integers(65, 90))
        image = jpeg_roundtrip(image, quality)
    bands = []
    if tiled is None:
        tiled = export in ("jpeg8", "png8") and rng.random() < 0.3
    if tiled:
        image, x_map, y_map, bands = tile_with_borders(image, rng)
        for t in joints:
            r = 0.5 * max(t["diameter_px"], 2.0)
            nx0, nx1 = x_map(t["x_px"] - r), x_map(t["x_px"] + r)
            ny0, ny1 = y_map(t["y_px"] - r), y_map(t["y_px"] + r)
            if (nx1 - nx0) > 2 * r + 0.5 or (ny1 - ny0) > 2 * r + 0.5:
                t["partial"] = True     # a black band cuts this joint
            for kx, ky in (("x_px", "y_px"), ("site_x_px", "site_y_px")):
                if kx in t:
                    t[kx], t[ky] = float(x_map(t[kx])), float(y_map(t[ky]))
    frame_verdict = _judge_truth(joints)
    pad = [t for t in joints if t["kind"] == "pad"]
    truth = {
        "schema": "xrayinspect-truth/1",
        "seed": seed if isinstance(seed, int) else list(seed),
        "package": package, "difficulty": difficulty, "export": export, "polarity": polarity,
        "jpeg_quality": quality, "tiled": bool(tiled), "bands": bands,
        "shape": list(image.shape), "pixel_size_um": scene.pixel_size_um,
        "detector": det, "scene": scene.frame, "frame_verdict": frame_verdict,
        "pad_void_pct": pad[0]["void_pct"] if pad else None,
        "joints": joints,
    }
    return SynthFrame(image=image, truth=truth, recipe=scene.recipe, suffix=EXPORTS[export])


def _ct_frame(rng, seed, *, package, difficulty, shape, export, rows, cols, defects, ss):
    """A CT-slice export of a BGA: the slice through the balls' mid-height."""
    if package != "bga":
        raise ValueError("CT-slice frames are simulated for BGA packages only")
    shape = shape or (2048, 2048)
    scene = bga_scene(rng, shape=shape, difficulty=difficulty, rows=rows, cols=cols, tilt_deg=0.0, defects=defects)
    mu, joints = render_slice(scene, scene.frame["ball_height_px"], ss=ss)
    export = export or str(rng.choice(["tiff16", "png8"]))
    if export not in ("tiff16", "png16", "png8", "tiff8"):
        raise ValueError(f"CT-slice export must be tiff16, png16, png8 or tiff8, got {export!r}")
    image, det = ct_export(mu, rng, bits=8 if export.endswith("8") else 16, difficulty=difficulty)
    frame_verdict = _judge_truth(joints)
    truth = {
        "schema": "xrayinspect-truth/1", "seed": seed if isinstance(seed, int) else list(seed),
        "package": package, "difficulty": difficulty, "export": export, "polarity": "bright",
        "modality": "ct", "slice_height_px": scene.frame["ball_height_px"], "jpeg_quality": None,
        "tiled": False, "bands": [], "shape": list(image.shape), "pixel_size_um": scene.pixel_size_um,
        "detector": det, "scene": scene.frame, "frame_verdict": frame_verdict, "pad_void_pct": None,
        "joints": joints,
    }
    recipe = dict(scene.recipe)
    recipe["image"] = dict(recipe["image"], solder="bright")
    return SynthFrame(image=image, truth=truth, recipe=recipe, suffix=EXPORTS[export])


def dict_to_toml(d):
    """Write a two-level dict (tables of scalars and lists) as TOML text."""
    def val(x):
        if isinstance(x, bool):
            return "true" if x else "false"
        if isinstance(x, str):
            return json.dumps(x)
        if isinstance(x, (list, tuple)):
            return "[" + ", ".join(val(i) for i in x) + "]"
        if isinstance(x, (float, np.floating)):
            return repr(float(x))
        return str(int(x))
    out = []
    for table, body in d.items():
        out.append(f"[{table}]")
        out += [f"{k} = {val(v)}" for k, v in body.items()]
        out.append("")
    return "\n".join(out)


def write_set(out, n, seed, *, package="bga", difficulty="normal", shape=None, **kwargs):
    """Write ``n`` frames with ``<name>.truth.json`` and ``<name>.recipe.toml`` beside each.

    Parameters
    ----------
    out : path
        Output folder (created).
    n : int
        Number of frames.
    seed : int
        Base seed; frame ``i`` uses ``(seed, i)``.
    package : {"bga", "qfn", "mixed"}
        ``"mixed"`` alternates BGA and QFN.

    Returns
    -------
    list of Path
        The frame files written.
    """
    from ..io import write_frame
    from ..results import atomic_write_bytes

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        pkg = package if package != "mixed" else ("bga", "qfn")[i % 2]
        f = generate_frame((seed, i), package=pkg, difficulty=difficulty, shape=shape, **kwargs)
        name = f"{pkg}_{seed}_{i:04d}"
        path = out / (name + f.suffix)
        write_frame(path, f.image, pixel_size_um=f.truth["pixel_size_um"], bits_used=f.truth["detector"]["bits_used"])
        atomic_write_bytes(out / (name + ".truth.json"), json.dumps(f.truth, indent=1).encode())
        atomic_write_bytes(out / (name + ".recipe.toml"), dict_to_toml(f.recipe).encode())
        paths.append(path)
    return paths
