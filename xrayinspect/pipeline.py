"""Score one frame: read -> prepare -> segment -> measure -> judge.

Data flows one way; every step is a pure function on arrays. The package
type comes from the recipe or, without one, from the image (one large pad
with perimeter pins is a QFN, a lattice of balls a BGA). A frame with no
contrast above its own noise (no package in it) is a ``status=error`` result
with its reason, never a pass.
"""

import math
import time

import numpy as np

from .errors import XrayInspectError
from .results import FrameResult, error_result

DEFAULT_PROFILE = "ipc-a-610e"
#: Divide the illumination field out of a QFN frame before its pad-wide envelope
#: (``prepare(flatten=True)``): a 10 % ramp across a frame otherwise reads as
#: solder on the dark side (development QFN frames: false pin bridges 2 -> 12).
FLATTEN_QFN_FIELD = True
#: Give a windowed 8-bit export its black level back before BGA scoring (xrayinspect.linearise).
LINEARISE_WINDOWED = True
#: BGA balls found this many times larger than the size guess the attenuation
#: map was built for are scored again on a map built for their size (None:
#: never). At 4x the map's envelope has fitted inside the balls: four frames of
#: 45-54 px balls guessed at 8.4 px (scripts/altsim.py) lost 130 of 170 balls;
#: at 2x a development frame of 96 px balls guessed at 29.5 px, scored well on
#: its first map, gained 8 false head-in-pillow calls on the second.
RESCALE_FROM = 4.0
#: Read a BGA frame's noise and ball profile before scoring it
#: (xrayinspect.sharpening): a projection is never scored as a slice, and a
#: viewer's unsharp mask is undone.
INSPECT_BALLS = True


def _limits(recipe, profile):
    from . import profiles as prof
    from .recipe import Limits, default_recipe

    p = prof.get_profile(profile or DEFAULT_PROFILE) if not hasattr(profile, "limits") else profile
    if recipe is None:
        recipe = default_recipe("bga")
        recipe = prof.apply_profile(recipe, p)
        return recipe.limits, p.name, None
    return prof.apply_profile(recipe, p).limits, p.name, recipe


def _unband(joints, keep_x, keep_y):
    """Map joint positions and contours from a band-free copy back to the frame."""
    ix, iy = np.arange(keep_x.size), np.arange(keep_y.size)

    def fx(x):
        return float(np.interp(x, ix, keep_x))

    def fy(y):
        return float(np.interp(y, iy, keep_y))

    for j in joints:
        for kx, ky in (("x_px", "y_px"), ("site_x_px", "site_y_px")):
            x, y = getattr(j, kx), getattr(j, ky)
            if np.isfinite(x) and np.isfinite(y):
                setattr(j, kx, fx(x))
                setattr(j, ky, fy(y))
        j.contour = [[fx(x), fy(y)] for x, y in j.contour]
        j.void_contours = [[[fx(x), fy(y)] for x, y in c] for c in j.void_contours]


def _unbin(joints, factor):
    """Map joint positions, sizes and contours from a ``factor``-binned copy back to the frame.

    Binned pixel ``i`` covers frame pixels ``factor * i`` to
    ``factor * i + factor - 1``: its centre is ``factor * i + (factor - 1) / 2``.
    """
    b = float(factor)
    off = (b - 1) / 2

    def f(v):
        return b * v + off

    for j in joints:
        for k in ("x_px", "y_px", "site_x_px", "site_y_px"):
            v = getattr(j, k)
            if np.isfinite(v):
                setattr(j, k, f(v))
        if np.isfinite(j.offset_px):
            j.offset_px *= b
        j.diameter_px *= b
        j.area_px *= b * b
        j.contour = [[f(x), f(y)] for x, y in j.contour]
        j.void_contours = [[[f(x), f(y)] for x, y in c] for c in j.void_contours]


def _unbin_labels(labels, factor, shape):
    """A label image of a ``factor``-binned copy at the frame's ``shape`` (nearest), or None."""
    if labels is None:
        return None
    up = np.repeat(np.repeat(labels, factor, axis=0), factor, axis=1)
    out = np.zeros(shape, up.dtype)
    out[:up.shape[0], :up.shape[1]] = up[:shape[0], :shape[1]]
    return out


def clipped_pixels(image, polarity):
    """Pixels an export clipped at its most attenuating grey level, or None.

    A windowed 8-bit export often maps the densest solder to 0 (or, inverted,
    to full scale); there the true attenuation is unknown (only a lower
    bound). Counted as clipped when at least 0.05 % of the frame sits exactly
    at that extreme and the level is the container's limit.
    """
    if image.dtype.kind not in "ui":
        return None
    lo = image.min() if polarity == "dark" else image.max()
    limit = 0 if polarity == "dark" else (np.iinfo(image.dtype).max if image.dtype == np.uint8 else image.max())
    if lo != limit and image.dtype == np.uint8:
        return None
    m = image == lo
    if m.mean() < 5e-4:
        return None
    import cv2

    # blur spreads the clipped plateau by a pixel
    return cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


#: Least contrast, in pixel-noise sigmas, that a frame with solder in it shows at joint scale
#: (:func:`structure_contrast`). Frames of noise only (Gaussian, Poisson, uniform; 8-bit, 16-bit,
#: float; 16 to 2048 px) measure 0.9-1.6; the least contrasty development frames (330 synthetic
#: "hard" BGA and QFN frames, 96-1024 px: 8- and 16-bit, JPEG, tiled, inverted, CT) measure 10.4 and
#: more, the sample frames 38 and more. 4 leaves a factor of 2.5 either side.
MIN_STRUCTURE_CONTRAST = 4.0
#: Side (px) of the blocks averaged before the contrast is taken: averaging divides white noise by
#: this factor while a joint, several pixels across, keeps its contrast.
STRUCTURE_BLOCK_PX = 4


def structure_contrast(image, *, block_px=STRUCTURE_BLOCK_PX, max_pairs=1 << 17):
    """Grey-level range of the frame at joint scale, in units of its pixel noise.

    The range is the 0.1-99.9 percentile spread of the frame averaged over
    ``block_px`` x ``block_px`` blocks; the noise is the robust standard
    deviation of neighbouring-pixel differences (1.4826 x their median
    absolute deviation / sqrt 2), which the edges of joints barely move. Both
    are grey-level differences, so their ratio depends on neither the frame's
    size, its bit depth nor its level: noise only measures about 1.5 (the
    averaging has divided it by ``block_px``), while solder stands many noise
    sigmas out of its background.

    Parameters
    ----------
    image : ndarray, 2-D
        The frame as read, finite.
    block_px : int
        Averaging block side, px (smaller on frames under ``4 * block_px`` px).
    max_pairs : int
        At most about this many neighbour pairs per direction go into the
        noise estimate (taken on a regular stride over the whole frame).

    Returns
    -------
    float
        Range over noise, dimensionless; ``inf`` when the noise estimate is 0
        (a noise-free rendering or a coarsely quantised export), which never
        counts as "no structure".
    """
    import cv2

    x = np.asarray(image)
    if x.dtype not in (np.uint8, np.uint16, np.float32):
        x = x.astype(np.float32)        # cv2.resize takes no int32/int64
    h, w = x.shape
    s = max(1, int(math.ceil(math.sqrt(h * w / max_pairs))))
    rows, cols = x[::s].astype(np.float32), x[:, ::s].astype(np.float32)
    d = np.concatenate([(rows[:, 1::s] - rows[:, :-1:s]).ravel(), (cols[1::s] - cols[:-1:s]).ravel()])
    if d.size == 0:
        return math.inf
    noise = 1.4826 * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(2)
    if not noise > 0:
        return math.inf
    b = max(1, min(int(block_px), min(h, w) // 4))
    small = cv2.resize(x, (max(w // b, 1), max(h // b, 1)), interpolation=cv2.INTER_AREA)
    lo, hi = np.percentile(small, [0.1, 99.9])
    return float(hi - lo) / noise


#: An auto-detected QFN with fewer pins than this is scored as a BGA too ...
MIN_QFN_PINS = 4
#: ... and taken as one when the lattice fit holds at least this many sites (a spurious
#: lattice from pin gaps in a misread QFN held 17-20; a real package beside a dense part 682).
MIN_BGA_SITES = 30
#: ... or this many when the QFN reading found under :data:`MIN_QFN_PINS` pins, or its
#: pad lies away from the coarse one (:data:`PAD_BOX_MARGIN`): a
#: lone "pad" is a dense part, not a QFN (a 7 x 4 BGA of 28 large balls beside
#: two big components was scored as a pin-less QFN, a 5 x 4 BGA beside a part
#: cut by the frame's edge as a QFN of one "pin"); the smallest arrays are 2 x 3,
#: the smallest bottom-terminated packages have 6 terminals.
MIN_BGA_SITES_PINLESS = 6
#: A QFN reading whose pins do not flank its pad (:func:`pins_flank_pad`) needs
#: only :data:`MIN_BGA_SITES_PINLESS` sites of a clean ball lattice
#: (:func:`lattice_is_clean`) to give way to it, as one that misses most of its
#: pins does (False: :data:`MIN_BGA_SITES`). Development frame (6,760,000, 56),
#: 2048 px: a 4 x 4 BGA of 110 px balls beside a dense part cut by the frame's
#: edge was read as a QFN of eight pins along that part (2 bridges missed, 7
#: false), its 16-site lattice clean.
ONE_SIDED_PINS_WEAK = True
#: The pad the QFN scoring settles on lies within this share of the coarse
#: pad's size of the coarse pad's box (:func:`xrayinspect.qfn.coarse_pad`);
#: one found elsewhere (the balls of a BGA round a gap, the coarse "pad" a dense
#: part cut by the frame's edge) puts the frame to the BGA test too.
PAD_BOX_MARGIN = 0.25
#: A QFN reading with more missing pins than this share of its pins is put
#: to the BGA test (:data:`MIN_BGA_SITES`) as one whose pins do not flank its
#: pad: a BGA with a depopulated centre whose die shadow a local-contrast
#: export (CLAHE) darkened into a "pad" was read with its balls as 405 "pins"
#: and 16,846 missing (development frame (6700000, 25) under CLAHE); a noisy
#: QFN's pin model can miss as badly (27 pins found, 244 "missing", none of
#: them a real pin), and its pins make no lattice of 30 sites: with neither
#: reading fitting, the frame is an error row.
MAX_MISSING_PIN_SHARE = 0.5
#: A coarse pad touching this many of the frame's edges, where the pad the
#: QFN scoring settles on is cut by the frame too, is the board, not a pad
#: (the same export turned a ring-strewn board into one frame-sized blob and
#: its "pad" into a strip along the frame's edge): the reading is weak.
PAD_EDGES_TOUCHED = 3


#: The pad a QFN reading settles on also stands where the package check saw
#: it when its outline holds the centre of the check's box (False: its centre
#: must lie in that box).
PAD_HOLDS_CHECK = True


def pad_within(joints, box, margin=PAD_BOX_MARGIN):
    """Whether the pad among ``joints`` has its centre within ``box`` grown by ``margin`` of its size,
    or its outline holds the box's centre (:data:`PAD_HOLDS_CHECK`).

    Parameters
    ----------
    joints : list of JointResult
    box : tuple of float
        ``(x0, y0, x1, y1)``, px.
    margin : float
        Share of the box's width (height) added on each side.

    Returns
    -------
    bool
        False when there is no pad or its centre lies outside.
    """
    pad = next((j for j in joints if j.kind == "pad"), None)
    if pad is None or not (np.isfinite(pad.x_px) and np.isfinite(pad.y_px)):
        return False
    x0, y0, x1, y1 = box
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    if x0 - mx <= pad.x_px <= x1 + mx and y0 - my <= pad.y_px <= y1 + my:
        return True
    # the check may have seen a piece of the pad: one that a tiled export's
    # bands and a large void cut off (fresh development frame (5,990,000, 7))
    if PAD_HOLDS_CHECK and len(pad.contour) >= 3:
        import cv2

        outline = np.asarray(pad.contour, np.float32).reshape(-1, 1, 2)
        return cv2.pointPolygonTest(outline, (0.5 * (x0 + x1), 0.5 * (y0 + y1)), False) >= 0
    return False


#: The pad a QFN reading settles on covers at least this share of the square
#: the package check saw (its coarse side squared). On development frames,
#: treated as exports are (30 BGA and 40 QFN frames, 7 to 9 treatments), real
#: pads cover 0.48 of it or more (up to 4 where the check saw one window of a
#: print); "pads" that a sharpened or equalised BGA left (a bridge between two
#: balls amid the array, with the balls round it for pins) 0.03 or less.
MIN_PAD_SHARE = 0.2


def pad_share_of_check(joints, side_px):
    """Area of the pad among ``joints`` over ``side_px`` squared (0 without a pad).

    Parameters
    ----------
    joints : list of JointResult
    side_px : float
        The pad's side as the package check saw it, px
        (:func:`xrayinspect.qfn.coarse_pad`).

    Returns
    -------
    float
        Share, 0 to about 1 (inf when ``side_px`` is not positive).
    """
    pad = next((j for j in joints if j.kind == "pad"), None)
    if pad is None:
        return 0.0
    if not side_px or side_px <= 0:
        return math.inf
    return float(pad.area_px) / float(side_px) ** 2


#: A QFN's pins flank its pad evenly: the fewer of two opposite sides holds at
#: least this share of the other's (None: any two). A 29 x 30 BGA whose upper
#: rows, merged at the package check's coarse scale, were taken for a pad had
#: 268 "pins" on one side, none on the other, and 11 and 2 on the other pair
#: (development frame (6950000, 172), tiff8: 394 of 671 balls lost).
PIN_SIDE_BALANCE = 0.4


def seated_balls(joints):
    """The whole balls a BGA reading found on its lattice's sites (not missing, not extra, not partial).

    Parameters
    ----------
    joints : list of JointResult

    Returns
    -------
    list of JointResult
    """
    return [j for j in joints if j.kind == "ball" and j.grid_row >= 0 and not j.partial
            and "missing" not in j.defects and "extra" not in j.defects]


#: A ball lattice that leaves more than this share of the whole balls on its
#: sites misaligned (and at least :data:`MISFIT_MIN_BALLS` of them) does not
#: describe the frame: the pitch is fitted to the balls themselves, so a real
#: array's misaligned balls are the odd few (development frames: at most
#: 0.13 of a frame's balls, 2 of 15), while a lattice fitted to a
#: contrast-equalised board's noise left 97 of its 194 "balls" off their
#: sites.
MAX_MISALIGNED_SHARE = 1 / 3
MISFIT_MIN_BALLS = 10


def lattice_misfits(joints, share=MAX_MISALIGNED_SHARE, min_balls=MISFIT_MIN_BALLS):
    """Whether a BGA reading's lattice leaves too many of its whole balls misaligned.

    Parameters
    ----------
    joints : list of JointResult
        The BGA reading's rows.
    share : float
        Largest share (0-1) of whole balls on sites that may be misaligned.
    min_balls : int
        Fewest misaligned balls that can make a lattice misfit.

    Returns
    -------
    bool
    """
    seated = seated_balls(joints)
    off = sum("misaligned" in j.defects for j in seated)
    return off >= min_balls and off > share * len(seated)


#: A small ball lattice (under :data:`MIN_BGA_SITES` sites) stands in for a
#: QFN reading that misses most of its pins when it is clean: this share of
#: its sites or more hold a whole, seated ball ...
CLEAN_SITE_SHARE = 0.8
#: ... no more than this share of those balls is misaligned (a 6 x 4
#: array of 90 px balls at a 2048 px frame's edge beside a part cut by it:
#: 23 of 24 sites, 1 misaligned) ...
CLEAN_MISALIGNED_SHARE = 0.1
#: ... and their median circularity (0-1) is at least this: balls are round
#: (0.92 in that frame), a noisy QFN's perimeter pins fitted as a ring of
#: sites are not (0.67-0.68).
CLEAN_MIN_CIRCULARITY = 0.8


def lattice_is_clean(joints, info):
    """Whether a BGA reading's lattice is nearly all seated, aligned whole balls.

    Parameters
    ----------
    joints : list of JointResult
        The BGA reading's rows.
    info : dict
        Its scoring info; ``n_sites`` is the lattice's site count.

    Returns
    -------
    bool
        At least :data:`CLEAN_SITE_SHARE` of the sites hold a whole ball on
        its site, at most :data:`CLEAN_MISALIGNED_SHARE` of those balls are
        misaligned, and they are round (median circularity at least
        :data:`CLEAN_MIN_CIRCULARITY`).
    """
    n_sites = int(info.get("n_sites", 0))
    seated = seated_balls(joints)
    if n_sites <= 0 or not seated:
        return False
    off = sum("misaligned" in j.defects for j in seated)
    return (len(seated) >= CLEAN_SITE_SHARE * n_sites and off <= CLEAN_MISALIGNED_SHARE * len(seated)
            and float(np.median([j.circularity for j in seated])) >= CLEAN_MIN_CIRCULARITY)


def pins_mostly_missing(joints, share=None):
    """Whether missing pins outnumber ``share`` of all the pins a QFN reading expects.

    Parameters
    ----------
    joints : list of JointResult
    share : float, optional
        Default :data:`MAX_MISSING_PIN_SHARE`.

    Returns
    -------
    bool
    """
    share = MAX_MISSING_PIN_SHARE if share is None else share
    pins = [j for j in joints if j.kind == "pin"]
    missing = sum("missing" in j.defects for j in pins)
    return bool(pins) and missing > share * len(pins)


def box_edges_touched(box, shape, tol_px=1.0):
    """How many of the frame's four edges a box reaches.

    Parameters
    ----------
    box : tuple of float
        ``(x0, y0, x1, y1)``, px (``x1``, ``y1`` exclusive).
    shape : tuple of int
        The frame's ``(rows, cols)``, px.
    tol_px : float
        A box within this of an edge reaches it, px.

    Returns
    -------
    int
        0 to 4.
    """
    x0, y0, x1, y1 = box
    h, w = shape[:2]
    return int(x0 <= tol_px) + int(y0 <= tol_px) + int(x1 >= w - tol_px) + int(y1 >= h - tol_px)


def pad_cut_by_frame(joints, shape, tol_px=2.0):
    """Whether the pad's outline among ``joints`` reaches the frame's edge.

    Parameters
    ----------
    joints : list of JointResult
    shape : tuple of int
        The frame's ``(rows, cols)``, px.
    tol_px : float
        An outline within this of an edge reaches it, px.

    Returns
    -------
    bool
        False when there is no pad or it has no outline.
    """
    pad = next((j for j in joints if j.kind == "pad"), None)
    if pad is None or not pad.contour:
        return False
    c = np.asarray(pad.contour, float)
    x0, y0 = c.min(axis=0)
    x1, y1 = c.max(axis=0)
    return box_edges_touched((x0, y0, x1 + 1, y1 + 1), shape, tol_px) > 0


def pins_flank_pad(joints, angle_deg=0.0, min_per_side=2, balance=None):
    """Whether a QFN's pins stand on two opposite sides of its pad.

    Every bottom-terminated package has its terminals on two opposite sides
    (SON, DFN) or on all four (QFN), as many on one as on the other; the
    balls of a BGA beside a dense part taken for a pad all lie to one side
    of it.

    Parameters
    ----------
    joints : list of JointResult
        The pad and its pins.
    angle_deg : float
        The pad's orientation, degrees.
    min_per_side : int
        Pins a side needs to count.
    balance : float, optional
        Share of the fuller side's pins the other side must hold (default
        :data:`PIN_SIDE_BALANCE`; 0 for any two sides of ``min_per_side``).

    Returns
    -------
    bool
    """
    pad = next((j for j in joints if j.kind == "pad"), None)
    pins = [j for j in joints if j.kind == "pin" and "missing" not in j.defects]
    if pad is None or not pins or not (np.isfinite(pad.x_px) and np.isfinite(pad.y_px)):
        return False
    t = math.radians(angle_deg if np.isfinite(angle_deg) else 0.0)
    d = np.array([(j.x_px - pad.x_px, j.y_px - pad.y_px) for j in pins])
    u = d[:, 0] * math.cos(t) + d[:, 1] * math.sin(t)
    v = -d[:, 0] * math.sin(t) + d[:, 1] * math.cos(t)
    along_u = np.abs(u) >= np.abs(v)
    count = {"+u": int((along_u & (u > 0)).sum()), "-u": int((along_u & (u < 0)).sum()),
             "+v": int((~along_u & (v > 0)).sum()), "-v": int((~along_u & (v < 0)).sum())}
    share = PIN_SIDE_BALANCE if balance is None else balance

    def flanked(a, b):
        return min(a, b) >= min_per_side and (share is None or min(a, b) >= share * max(a, b))

    return bool(flanked(count["+u"], count["-u"]) or flanked(count["+v"], count["-v"]))


def detect_package(image, polarity, valid=None):
    """``"qfn"`` when one large flat solder area dominates the frame, else ``"bga"``.

    ``valid``: pixels that are image (False on the black bands of a stitched export).
    """
    from .qfn import looks_like_qfn

    return "qfn" if looks_like_qfn(image, polarity, valid=valid) else "bga"


def score_frame(image, *, recipe=None, profile=None, frame="", meta=None, classifier=None, keep_masks=False):
    """Score one frame held in memory.

    Parameters
    ----------
    image : ndarray, 2-D
        Grey frame as read (uint8, uint16 or float32).
    recipe : xrayinspect.recipe.Recipe, optional
        Package description; inferred from the image when None.
    profile : str or RuleProfile, optional
        Rule profile name (default ``"ipc-a-610e"``).
    frame : str
        Name written in the tables.
    meta : xrayinspect.io.FrameMeta, optional
        What the file said (bits used, pixel size).
    classifier : object with ``predict_proba(patches)``, optional
        Joint classifier for the calls rules cannot make.
    keep_masks : bool
        Keep the joint and void label images on the result (``result.masks``).

    Returns
    -------
    FrameResult
        ``status="error"`` with a one-line reason when the frame shows no
        solder-like structure (:func:`structure_contrast` below
        :data:`MIN_STRUCTURE_CONTRAST`) or no joint is found in it (a frame
        nobody could judge must not pass).

    Raises
    ------
    XrayInspectError
        The frame is not 2-D, holds NaN or inf, or is flat.
    """
    from .annotations import remove_annotations
    from .bad_pixels import repair_bad_pixels
    from .preprocess import _full_scale, frame_polarity, grey_levels, invalid_bands, prepare

    t0 = time.perf_counter()
    image = np.asarray(image)
    # name the file as the reader's errors do; the frame name when there is no file
    where = (meta.path if meta is not None and getattr(meta, "path", None) else None) or frame or "frame"
    if image.ndim != 2:
        raise XrayInspectError(f"{where}: expected a 2-D grey frame, got shape {image.shape}")
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise XrayInspectError(f"{where}: frame contains NaN or inf")
    if image.size == 0 or float(image.max()) == float(image.min()):
        raise XrayInspectError(f"{where}: frame is flat (every pixel {image.flat[0] if image.size else ''}): nothing to score")
    # floors and noise rules count grey levels: a float frame gets them first
    was_float = image.dtype.kind == "f"
    image, zero_lost = grey_levels(image)
    # 8-bit exports are windowed for display (grey levels not linear in dose);
    # a float frame shifted to start at 0 has lost its zero the same way
    windowed = image.dtype == np.uint8 or zero_lost
    # a detector's dead or hot lines and stuck pixels, left in by an export
    # without the machine's defect-map correction, cut balls in two and seed
    # strays and voids: filled in from their neighbours as that map would -
    # lines before a hot one is taken for a burned-in cross-hair and inpainted,
    # stuck pixels after the text, whose anti-aliased strokes can pass for them
    image, line_px = repair_bad_pixels(image, stuck=False)
    # burned-in text, scale bars and cross-hairs sit at the container's extremes
    # and would set the full scale, the bands and the typical ball: filled in first
    image, annotation_px = remove_annotations(image)
    image, stuck_px = repair_bad_pixels(image, lines=False)
    repaired_px = line_px + stuck_px

    def unscored(reason, package):
        # an error row that still says what was seen of the frame
        r = error_result(frame, f"{where}: {reason}", package=package)
        r.shape = tuple(image.shape)
        r.annotation_px = annotation_px
        r.repaired_px = repaired_px
        r.seconds = time.perf_counter() - t0
        return r

    # without this, noise is thresholded into blobs and the largest blob "is" a QFN pad that passes
    contrast = structure_contrast(image)
    if contrast < MIN_STRUCTURE_CONTRAST:
        return unscored(f"no solder-like structure, nothing to score (contrast at joint scale "
                        f"{contrast:.1f} x the pixel noise, a package shows {MIN_STRUCTURE_CONTRAST:g} or more)",
                        recipe.package.type if recipe is not None else "")
    limits, profile_name, recipe = _limits(recipe, profile)
    solder = recipe.image.solder if recipe is not None else "auto"
    px_um = (recipe.image.pixel_size_um if recipe is not None and recipe.image.pixel_size_um else None) \
        or (meta.pixel_size_um if meta is not None else None)
    # a float frame's levels are its own (grey_levels), not the file's bit depth
    bits = meta.bits_used if meta is not None and not was_float else None
    pkg_type = recipe.package.type if recipe is not None else None
    feature_d = None
    if recipe is not None and px_um and recipe.package.ball_diameter_mm:
        feature_d = recipe.package.ball_diameter_mm * 1000 / px_um * 1.1
    valid = invalid_bands(image)
    # one float copy for the polarity vote and the package check's coarse copies
    f32 = image if image.dtype == np.float32 else image.astype(np.float32)
    polarity, diameter = frame_polarity(image, solder=solder, feature_diameter_px=feature_d, valid=valid, _f32=f32)

    def ball_prep(ball_diameter=None):
        # the full-resolution attenuation map: what BGA scoring reads (a QFN
        # frame needs it only when it turns out to be a BGA)
        d = ball_diameter if ball_diameter is not None else diameter()
        p = prepare(image, solder=polarity, bits_used=bits, feature_diameter_px=d)
        img, img32 = image, f32
        first = None
        if INSPECT_BALLS:
            # the balls' noise says projection or slice; their profile, whether
            # a viewer's unsharp mask is on the export (undone before anything)
            from .bga import CORE_FRACTION, first_look_diameter
            from .joints import segment_joints
            from .sharpening import inspect, undo_unsharp

            first = segment_joints(p.att_smooth, p.valid, diameter_px=first_look_diameter(p.blob_diameter_px),
                                   core_fraction=CORE_FRACTION)
            look = inspect(image, p.polarity, first, p.valid)
            if look.amount > 0:
                img = undo_unsharp(image, look.amount, look.sigma_px)
                img32 = img.astype(np.float32)
                p = prepare(img, solder=polarity, bits_used=bits, feature_diameter_px=d)
                first = None
        if windowed and LINEARISE_WINDOWED:
            # a windowed export's black level is lost; the balls' shape gives it back
            from .linearise import estimate_display_offset

            f = img32 if p.polarity == "dark" else np.float32(_full_scale(image, bits)) - img32
            u, first = estimate_display_offset(np.maximum(f, np.float32(0.5)), p, masks=first)
            if u > 0:
                p = prepare(img, solder=polarity, bits_used=bits, feature_diameter_px=d, display_offset=u)
                first = None
            p.display_offset = u
        # the same map: its first look need not be repeated
        p.first_masks = first
        if INSPECT_BALLS:
            p.inspection = look
        p.clipped = clipped_pixels(image, p.polarity)
        p.windowed = windowed
        return p

    def bga_scored(p):
        """``score_bga`` on ``p``; again on a map built for the balls' size when they
        turn out far larger than the size guess the map was built for."""
        from .bga import score_bga

        js, inf = score_bga(p, recipe=recipe, limits=limits, pixel_size_um=px_um)
        found = float(inf.get("ball_diameter_px", math.nan))
        if RESCALE_FROM is not None and feature_d is None and np.isfinite(found) \
                and found > RESCALE_FROM * p.blob_diameter_px:
            # the unattenuated level is an envelope a little wider than a
            # joint: built for a size guess several times too small, it fits
            # inside each ball and leaves only its rim (a zoomed view whose
            # size guess was taken from vias or traces)
            p = ball_prep(found)
            js, inf = score_bga(p, recipe=recipe, limits=limits, pixel_size_um=px_um)
        return _more_arrays(js, inf, p, limits, px_um), inf, p

    auto = pkg_type is None
    pad_side = pad_box = None
    if auto:
        from .qfn import coarse_pad

        # the package check (as detect_package) keeps the pad's size: it sets the QFN's scoring scale
        pad_side, pad_box = coarse_pad(f32, polarity, valid=valid)
        pkg_type = "qfn" if pad_side > 0 else "bga"
    r = FrameResult(frame=frame, package=pkg_type, shape=tuple(image.shape), polarity=polarity,
                    profile=profile_name)
    if pkg_type == "qfn":
        from .preprocess import bin_frame
        from .qfn import _n_pins, coarse_pad, pad_binning, score_qfn

        # a stitching band through the pad would cut it into pieces: score the
        # frame with the bands taken out, then map positions back
        band_x = (~valid).all(axis=0)
        band_y = (~valid).all(axis=1)
        keep_x, keep_y = np.nonzero(~band_x)[0], np.nonzero(~band_y)[0]
        banded = bool(band_x.any() or band_y.any()) and keep_x.size > 16 and keep_y.size > 16
        sub = image[np.ix_(keep_y, keep_x)] if banded else image
        if pad_side is None:
            pad_side = coarse_pad(sub, polarity)[0]
        # a pad far larger than the QFN rules need is scored on a binned copy
        # (a quarter of the pixels per factor of 2); what it finds is mapped back
        binning = pad_binning(pad_side, sub.shape)
        work, top = sub, None
        if binning > 1:
            work, top = bin_frame(sub, binning), _full_scale(sub, bits)
        # the pad is far wider than a ball: its background must come from beyond it
        prep = prepare(work, solder=polarity, bits_used=bits, feature_diameter_px=0.6 * min(work.shape),
                       full_scale=top, flatten=FLATTEN_QFN_FIELD)
        joints, info = score_qfn(prep, recipe=recipe, limits=limits,
                                 pixel_size_um=px_um * binning if px_um else px_um)
        if binning > 1:
            _unbin(joints, binning)
            info = dict(info, pitch_px=binning * float(info.get("pitch_px", math.nan)),
                        labels=_unbin_labels(info.get("labels"), binning, sub.shape),
                        void_labels=_unbin_labels(info.get("void_labels"), binning, sub.shape))
        if banded:
            _unband(joints, keep_x, keep_y)
            info = dict(info, labels=None, void_labels=None)
        n_pins = _n_pins(joints)
        # the QFN scorer may settle on a "pad" away from what the package check
        # saw (the balls round a gap of a BGA), or on a strip at the frame's edge
        # where the check saw a frame-sized blob: such a reading has no pad to stand on
        pad_share = pad_share_of_check(joints, pad_side)
        weak = n_pins < MIN_QFN_PINS or (pad_box is not None and (
            not pad_within(joints, pad_box)
            or (box_edges_touched(pad_box, image.shape) >= PAD_EDGES_TOUCHED
                and pad_cut_by_frame(joints, image.shape, tol_px=1.0 + binning))))
        mostly_missing = pins_mostly_missing(joints)
        speck = pad_share < MIN_PAD_SHARE
        flanked = pins_flank_pad(joints, info.get("angle_deg", 0.0))
        if auto and (weak or mostly_missing or speck or not flanked):
            # a large dense part (a shield, an inductor) can look like a lone pad
            # at the coarse scale of the package check; a pad without pins,
            # or with "pins" on one side only (the balls of a BGA beside it)
            # or mostly missing (the balls round a BGA's empty centre), or a
            # "pad" somewhere else than that part or a speck of it (a bridge
            # amid a ball array), beside a lattice of balls is a BGA frame
            bj, binfo, prep_ball = bga_scored(ball_prep())
            # a clean lattice of round, seated balls outweighs a pin reading
            # that misses most of its pins or has them on one side of its pad
            # only (a 4 x 4 BGA of 110 px balls beside a dense part cut by the
            # frame's edge: eight "pins" along the part's inner side)
            doubtful = mostly_missing or (ONE_SIDED_PINS_WEAK and not flanked)
            sites = MIN_BGA_SITES_PINLESS if weak or (doubtful and lattice_is_clean(bj, binfo)) \
                else MIN_BGA_SITES
            # (sites found only by a dome over something dense do not make a
            # lattice: on a noisy QFN frame its pad, a plate, held 32 of them)
            if int(binfo.get("n_sites", 0)) - int(binfo.get("dome_sites", 0)) >= sites:
                joints, info, pkg_type, prep = bj, binfo, "bga", prep_ball
                r.package = "bga"
            elif mostly_missing or speck:
                # neither reading fits: judging a pin model that misses most of its
                # own pins, or stands on a speck of what the package check saw as
                # the pad, would call its false "pins" (noise, a contrast-equalised
                # package body) bridged, and pass or fail the frame on them
                n_all = sum(j.kind == "pin" for j in joints)
                why = (f"{n_all - n_pins} of the {n_all} pins its pin rows imply are missing" if mostly_missing
                       else f"its pad covers {pad_share:.2f} of the pad the package check saw")
                return unscored(f"no package model fits: read as a QFN, {why}, and no ball lattice of {sites} "
                                f"sites fits (a frame too noisy, or processed - local contrast - past reading)",
                                "qfn")
    else:
        joints, info, prep = bga_scored(ball_prep())
    if not joints:
        # a frame with structure but not one joint found: passing it would
        # pass a board nobody looked at (a view the segmentation cannot read)
        return unscored(f"no solder joint found ({pkg_type.upper()} scoring): nothing was judged", pkg_type)
    if pkg_type == "bga" and int(info.get("n_sites", 0)) == 0:
        # balls that fit no pad lattice: no site can be checked for a missing,
        # misaligned or extra ball, so a pass would be a guess (text, a logo
        # or a part that is not a ball array)
        return unscored(f"no pad grid: {len(joints)} ball-like blob(s) found but no lattice of sites "
                        f"fits them, so missing, misaligned and extra balls cannot be judged (a lattice needs "
                        f"about 3 x 3 whole balls in view; a recipe does not replace them)", pkg_type)
    if pkg_type == "bga" and lattice_misfits(joints):
        seated = seated_balls(joints)
        n_off = sum("misaligned" in j.defects for j in seated)
        return unscored(f"pad grid does not fit: {n_off} of the {len(seated)} whole balls on the sites of the "
                        f"lattice fitted to them (pitch {float(info.get('pitch_px', math.nan)):.1f} px) lie off "
                        f"their sites, so it is not the package's (a frame processed - local contrast - past "
                        f"reading, or distorted)", pkg_type)
    r.joints = joints
    r.annotation_px = annotation_px
    r.repaired_px = repaired_px
    r.pitch_px = float(info.get("pitch_px", math.nan))
    r.angle_deg = float(info.get("angle_deg", math.nan))
    r.n_sites = int(info.get("n_sites", 0))
    r.grid = info.get("grid", {})
    r.more_grids = [a["grid"] for a in info.get("arrays", [])[1:]]
    r.pad_void_pct = float(info.get("pad_void_pct", math.nan))
    r.hip_judged = bool(info.get("hip_judged", True))
    r.sliced = bool(info.get("sliced", False))
    if keep_masks:
        r.masks = {"labels": info.get("labels"), "void_labels": info.get("void_labels")}
    if classifier is not None:
        from .classify import apply_classifier

        apply_classifier(image, r, classifier, prep.polarity)
    r.seconds = time.perf_counter() - t0
    return r


#: A frame may show several packages: when at least this many ball-like blobs
#: lie outside the scored package's footprint and no rule took them, the
#: frame is scored again without that footprint (None: one package per frame) ...
MORE_ARRAYS_FROM = 16
#: ... up to this many arrays in all.
MAX_ARRAYS = 4
#: A further array's typical ball must stand at least this share of the first
#: array's typical ball peak (attenuation). The smallest balls in use (0.25 mm,
#: 0.4 mm pitch) are a third of the height of the largest (0.76 mm); noise on
#: the board of a low-dose frame, thresholded where the first package was left
#: out, fits an 8 px lattice of "balls" at 0.03 of the peak (development frame
#: (6,700,000, 25) with 3 % noise added: 549 joints, 219 false bridges).
MORE_ARRAYS_MIN_PEAK = 0.15


def _typical_peak(joints):
    """Median attenuation peak of the seated, whole balls of ``joints`` (NaN without any)."""
    p = [j.peak_att for j in joints if j.kind == "ball" and j.grid_row >= 0 and not j.partial
         and "missing" not in j.defects and "extra" not in j.defects]
    return float(np.median(p)) if p else math.nan


def _more_arrays(joints, info, prep, limits, px_um):
    """The joints of ``joints`` and of every further ball array in the frame (``JointResult.array`` 1, 2, ...).

    Each further array is scored by :func:`xrayinspect.bga.score_bga` on the
    frame with the footprints found so far left out (invalid, as a
    stitching band), its grid inferred; it is kept when its lattice holds
    :data:`MIN_BGA_SITES` sites and its balls are solder (their typical peak
    at least :data:`MORE_ARRAYS_MIN_PEAK` of the first array's). ``info`` gains ``n_sites`` of all arrays
    and ``arrays`` (each one's ``grid`` dict and site count).
    """
    if MORE_ARRAYS_FROM is None or int(info.get("unscored_ball_like", 0)) < MORE_ARRAYS_FROM:
        return joints
    import copy

    from .bga import score_bga

    covered = np.array(info["footprint"], bool)
    first_peak = _typical_peak(joints)
    out = list(joints)
    arrays = [{"grid": info.get("grid", {}), "n_sites": int(info.get("n_sites", 0))}]
    last = info
    while len(arrays) < MAX_ARRAYS and int(last.get("unscored_ball_like", 0)) >= MORE_ARRAYS_FROM:
        rest = copy.copy(prep)
        rest.valid = prep.valid & ~covered
        rest.att = np.where(covered, np.float32(0), prep.att)
        rest.att_smooth = np.where(covered, np.float32(0), prep.att_smooth)
        js, inf = score_bga(rest, recipe=None, limits=limits, pixel_size_um=px_um)
        if int(inf.get("n_sites", 0)) < MIN_BGA_SITES or not np.any(inf["footprint"] & ~covered):
            break
        if MORE_ARRAYS_MIN_PEAK is not None and not _typical_peak(js) >= MORE_ARRAYS_MIN_PEAK * first_peak:
            break
        for j in js:
            j.array = len(arrays)
        out.extend(js)
        arrays.append({"grid": inf.get("grid", {}), "n_sites": int(inf.get("n_sites", 0))})
        covered |= inf["footprint"]
        last = inf
    if len(arrays) > 1:
        for i, j in enumerate(out):
            j.joint_id = i
        info["n_sites"] = sum(a["n_sites"] for a in arrays)
        info["arrays"] = arrays
    return out


def frame_recipe(path):
    """The recipe kept beside a frame (``NAME.recipe.toml`` for ``NAME.tif``), or None.

    Lets one folder mix products: each frame may carry its own recipe; a
    ``--recipe`` given for the batch takes precedence.
    """
    from pathlib import Path

    from .recipe import load_recipe

    p = Path(path)
    side = p.with_name(p.stem + ".recipe.toml")
    return load_recipe(side) if side.is_file() else None


def score_file(path, *, frame=None, recipe=None, profile=None, classifier=None, max_pixels=None):
    """Read and score one file; bad input becomes a ``status=error`` result, never an exception.

    Parameters
    ----------
    path : path-like
    frame : str, optional
        Name for the tables (default: the file name).
    recipe, profile, classifier
        As for :func:`score_frame`. Without a recipe, ``NAME.recipe.toml``
        beside the frame is used when there is one (:func:`frame_recipe`).
    max_pixels : int, optional
        Refuse frames larger than this (default: :data:`xrayinspect.io.DEFAULT_MAX_PIXELS`).

    Returns
    -------
    FrameResult
    """
    from . import io as xio

    name = frame if frame is not None else str(path).replace("\\", "/").rsplit("/", 1)[-1]
    try:
        if recipe is None:
            recipe = frame_recipe(path)
        kw = {} if max_pixels is None else {"max_pixels": max_pixels}
        image, meta = xio.read_frame(path, **kw)
        return score_frame(image, recipe=recipe, profile=profile, frame=name, meta=meta, classifier=classifier)
    except XrayInspectError as e:
        return error_result(name, str(e))
    except MemoryError:
        return error_result(name, f"{path}: out of memory while scoring")
    except Exception as e:  # a scoring bug must not stop a batch; say what it was
        return error_result(name, f"{path}: could not be scored ({type(e).__name__}: {e})")
