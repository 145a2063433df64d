"""Recipes: the package as its datasheet describes it, and the pass/fail limits.

A recipe is a small TOML file (see ``docs/interface.md``)::

    [package]
    type = "bga"
    rows = 16
    cols = 16
    pitch_mm = 0.8
    ball_diameter_mm = 0.45
    depopulated = [[0, 0], [7, 8]]

    [image]
    pixel_size_um = 12.5
    solder = "auto"

    [limits]
    ball_void_pct = 25.0

Only ``package.type`` is required. Bad values raise
:class:`~xrayinspect.errors.RecipeError` with one line naming the file, the
key and the fix; unknown keys are kept as warnings in ``Recipe.warnings``.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from .errors import RecipeError

__all__ = [
    "ImageSpec",
    "Limits",
    "PackageSpec",
    "Recipe",
    "default_recipe",
    "load_recipe",
    "parse_recipe",
    "recipe_to_toml",
]

PACKAGE_TYPES = ("bga", "qfn")
SOLDER_MODES = ("auto", "dark", "bright")
LIMIT_KEYS = ("ball_void_pct", "ball_largest_void_pct", "pad_void_pct", "offset_frac")


@dataclass(frozen=True)
class Limits:
    """Pass/fail limits of a joint.

    Attributes
    ----------
    ball_void_pct : float
        A ball fails above this total void %, 0 to 100.
    ball_largest_void_pct : float
        A ball fails when its largest single void is above this %, 0 to 100.
    pad_void_pct : float
        A QFN thermal pad fails above this void % of its wettable area.
    offset_frac : float
        A ball fails when its offset from its grid site exceeds this times its
        radius, 0 to 2.
    explicit : frozenset of str
        Keys the recipe set itself; they win over a rule profile
        (:func:`xrayinspect.profiles.apply_profile`). Not compared in ``==``.
    """

    ball_void_pct: float = 25.0
    ball_largest_void_pct: float = 15.0
    pad_void_pct: float = 50.0
    offset_frac: float = 0.5
    explicit: frozenset = field(default=frozenset(), compare=False)


@dataclass(frozen=True)
class PackageSpec:
    """The package as its datasheet describes it (None: infer from the image).

    Attributes
    ----------
    type : str
        ``"bga"`` or ``"qfn"``.
    rows, cols : int or None
        BGA ball rows and columns of the full grid.
    pitch_mm : float or None
        BGA ball pitch or QFN pin pitch, millimetres.
    ball_diameter_mm : float or None
        BGA nominal ball diameter, millimetres.
    depopulated : frozenset of (int, int)
        BGA grid sites (row, col, from 0) that carry no ball.
    pins_per_side : int or None
        QFN perimeter pins on each side.
    pad_mm : (float, float) or None
        QFN exposed (thermal) pad width and height, millimetres.
    """

    type: str
    rows: int | None = None
    cols: int | None = None
    pitch_mm: float | None = None
    ball_diameter_mm: float | None = None
    depopulated: frozenset = frozenset()
    pins_per_side: int | None = None
    pad_mm: tuple | None = None


@dataclass(frozen=True)
class ImageSpec:
    """How to read the frame.

    Attributes
    ----------
    pixel_size_um : float or None
        Pixel size, micrometres; None: from the file, else from the pitch.
    solder : str
        ``"dark"`` (solder absorbs, darker), ``"bright"`` or ``"auto"``.
    """

    pixel_size_um: float | None = None
    solder: str = "auto"


@dataclass(frozen=True)
class Recipe:
    """A parsed, validated recipe.

    Attributes
    ----------
    package : PackageSpec
    image : ImageSpec
    limits : Limits
    source : str or None
        Where it came from (a path or ``"<string>"``); not compared in ``==``.
    warnings : tuple of str
        Unknown or ignored keys, one line each; not compared in ``==``.
    profile : str or None
        ``"name@version"`` of the rule profile applied, if any.
    """

    package: PackageSpec
    image: ImageSpec = ImageSpec()
    limits: Limits = Limits()
    source: str | None = field(default=None, compare=False)
    warnings: tuple = field(default=(), compare=False)
    profile: str | None = field(default=None, compare=False)


# --------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------


def _r(v, limit: int = 60) -> str:
    """``repr(v)`` cut to ``limit`` characters: a 5 MB string or a 400-digit integer stays one short line."""
    try:
        s = repr(v)
    except Exception:  # a repr that raises: an int over the str-digits limit, a list nested too deeply
        s = f"<{type(v).__name__}>"
    return s if len(s) <= limit else s[: limit - 3] + "..."


class _Ctx:
    def __init__(self, source: str):
        self.source = source
        self.warnings: list[str] = []

    def fail(self, key: str, what: str, fix: str):
        raise RecipeError(f"{self.source}: {key} {what}; {fix}")

    def warn(self, msg: str):
        self.warnings.append(f"{self.source}: {msg}")


def _num(ctx: _Ctx, key: str, v, lo: float, hi: float, unit: str, *, lo_open=False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        ctx.fail(key, f"= {_r(v)} is not a number", f"write a number from {lo:g} to {hi:g}{unit}")
    try:
        f = float(v)
    except OverflowError:  # an integer too large for a float (possible from a dict, not from TOML)
        f = math.inf if v > 0 else -math.inf
    bad = not math.isfinite(f) or f > hi or (f <= lo if lo_open else f < lo)
    if bad:
        rng = f"above {lo:g} and up to {hi:g}" if lo_open else f"from {lo:g} to {hi:g}"
        shown = f"{f:g}" if math.isfinite(f) or isinstance(v, float) else _r(v)
        ctx.fail(key, f"= {shown} is out of range", f"use a value {rng}{unit}")
    v = f
    return v


def _int(ctx: _Ctx, key: str, v, lo: int, hi: int) -> int:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        ctx.fail(key, f"= {_r(v)} is not a whole number", f"write an integer from {lo} to {hi}")
    if not lo <= v <= hi:
        ctx.fail(key, f"= {_r(v)} is out of range", f"use an integer from {lo} to {hi}")
    return v


def _table(ctx: _Ctx, data: Mapping, name: str) -> dict:
    t = data.get(name, {})
    if not isinstance(t, Mapping):
        ctx.fail(f"[{name}]", f"is a {type(t).__name__}, not a table", f"write it as a [{name}] table")
    return dict(t)


def _parse_limits(ctx: _Ctx, table: Mapping, where: str = "limits") -> Limits:
    vals = {}
    for key, value in table.items():
        k = f"[{where}] {key}"
        if key in ("ball_void_pct", "ball_largest_void_pct", "pad_void_pct"):
            vals[key] = _num(ctx, k, value, 0.0, 100.0, " %")
        elif key == "offset_frac":
            vals[key] = _num(ctx, k, value, 0.0, 2.0, " (fraction of the ball radius)")
        else:
            ctx.warn(f"unknown key [{where}] {key} ignored (known: {', '.join(LIMIT_KEYS)})")
    lim = Limits(**vals, explicit=frozenset(vals))
    if lim.ball_largest_void_pct > lim.ball_void_pct:
        ctx.warn(
            f"[{where}] ball_largest_void_pct ({lim.ball_largest_void_pct:g}) is above "
            f"ball_void_pct ({lim.ball_void_pct:g}); the largest-void limit can never trip first"
        )
    return lim


def _parse_package(ctx: _Ctx, t: Mapping) -> PackageSpec:
    if "type" not in t:
        ctx.fail("[package] type", "is missing", 'add type = "bga" or type = "qfn" under [package]')
    ptype = t["type"]
    if not isinstance(ptype, str) or ptype.strip().lower() not in PACKAGE_TYPES:
        ctx.fail("[package] type", f"= {_r(ptype)} is not a known package", 'use "bga" or "qfn"')
    ptype = ptype.strip().lower()
    out: dict = {"type": ptype}
    bga_only = ("rows", "cols", "ball_diameter_mm", "depopulated")
    qfn_only = ("pins_per_side", "pad_mm")
    for key, v in t.items():
        k = f"[package] {key}"
        if key == "type":
            continue
        if key in ("rows", "cols"):
            out[key] = _int(ctx, k, v, 1, 200)
        elif key == "pins_per_side":
            out[key] = _int(ctx, k, v, 1, 200)
        elif key == "pitch_mm":
            out[key] = _num(ctx, k, v, 0.05, 5.0, " mm")
        elif key == "ball_diameter_mm":
            out[key] = _num(ctx, k, v, 0.0, 5.0, " mm", lo_open=True)
        elif key == "pad_mm":
            if not isinstance(v, (list, tuple)) or len(v) != 2:
                ctx.fail(k, f"= {_r(v)} is not a [width, height] pair", "write pad_mm = [3.1, 3.1] (mm)")
            out[key] = tuple(_num(ctx, k, x, 0.0, 100.0, " mm", lo_open=True) for x in v)
        elif key == "depopulated":
            if not isinstance(v, (list, tuple)):
                ctx.fail(k, f"= {_r(v)} is not a list", "write depopulated = [[row, col], ...] (from 0)")
            sites = set()
            for item in v:
                if (
                    not isinstance(item, (list, tuple))
                    or len(item) != 2
                    or any(isinstance(x, bool) or not isinstance(x, int) for x in item)
                ):
                    ctx.fail(k, f"entry {_r(item)} is not a [row, col] pair of integers",
                             "write depopulated = [[row, col], ...] (from 0)")
                r, c = int(item[0]), int(item[1])
                if r < 0 or c < 0:
                    ctx.fail(k, f"entry [{_r(r)}, {_r(c)}] is negative", "sites count from 0")
                sites.add((r, c))
            out[key] = frozenset(sites)
        else:
            ctx.warn(f"unknown key [package] {key} ignored")
            continue
        if ptype == "bga" and key in qfn_only:
            ctx.warn(f"[package] {key} is a QFN key; ignored for a BGA")
        if ptype == "qfn" and key in bga_only:
            ctx.warn(f"[package] {key} is a BGA key; ignored for a QFN")
    spec = PackageSpec(**out)
    for r, c in sorted(spec.depopulated):
        if (spec.rows is not None and r >= spec.rows) or (spec.cols is not None and c >= spec.cols):
            ctx.fail("[package] depopulated", f"entry [{_r(r)}, {_r(c)}] lies outside the {spec.rows}x{spec.cols} grid",
                     "sites count from 0 and must be below rows and cols")
    if spec.ball_diameter_mm is not None and spec.pitch_mm is not None:
        if spec.ball_diameter_mm >= spec.pitch_mm:
            ctx.fail("[package] ball_diameter_mm",
                     f"= {spec.ball_diameter_mm:g} is not below pitch_mm = {spec.pitch_mm:g}",
                     "balls must be smaller than their pitch; check both values against the datasheet")
    return spec


def _parse_image(ctx: _Ctx, t: Mapping) -> ImageSpec:
    out = {}
    for key, v in t.items():
        k = f"[image] {key}"
        if key == "pixel_size_um":
            out[key] = _num(ctx, k, v, 0.5, 500.0, " um")
        elif key == "solder":
            if not isinstance(v, str) or v.strip().lower() not in SOLDER_MODES:
                ctx.fail(k, f"= {_r(v)} is not a solder mode", 'use "auto", "dark" or "bright"')
            out[key] = v.strip().lower()
        else:
            ctx.warn(f"unknown key [image] {key} ignored")
    return ImageSpec(**out)


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------


def parse_recipe(text_or_dict, source: str = "<string>") -> Recipe:
    """Parse and validate a recipe from TOML text or an already-parsed dict.

    Parameters
    ----------
    text_or_dict : str or Mapping
        TOML text, or the dict ``tomllib`` would return.
    source : str, optional
        Name used in error messages (a path, or ``"<string>"``).

    Returns
    -------
    Recipe
        With unknown keys listed in ``Recipe.warnings``.

    Raises
    ------
    RecipeError
        Malformed TOML, a missing or unknown ``package.type``, a value of the
        wrong type or out of range (rows/cols 1..200, pitch 0.05..5 mm, ball
        diameter below the pitch, pixel size 0.5..500 um, percentages 0..100,
        offset_frac 0..2, depopulated sites inside the grid).

    Examples
    --------
    >>> r = parse_recipe('[package]\\ntype = "bga"\\npitch_mm = 0.8\\n[limits]\\nball_void_pct = 20')
    >>> r.package.pitch_mm, r.limits.ball_void_pct, sorted(r.limits.explicit)
    (0.8, 20.0, ['ball_void_pct'])
    """
    # one line whatever the name: a path holding a newline would split the message
    source = str(source).replace("\r", "\\r").replace("\n", "\\n")
    ctx = _Ctx(source)
    if isinstance(text_or_dict, (bytes, bytearray)):
        try:
            text_or_dict = bytes(text_or_dict).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecipeError(f"{source}: not UTF-8 text (byte {exc.start}); save the recipe as UTF-8") from None
    if isinstance(text_or_dict, str):
        try:
            data = tomllib.loads(text_or_dict)
        except tomllib.TOMLDecodeError as exc:
            msg = " ".join(str(exc).split())
            raise RecipeError(f"{source}: malformed TOML ({msg}); fix the syntax there") from None
        except RecursionError:  # tomllib recurses once per nested array or inline table
            raise RecipeError(f"{source}: malformed TOML (arrays or inline tables nested too deeply); "
                              "a recipe needs at most two levels") from None
    elif isinstance(text_or_dict, Mapping):
        data = dict(text_or_dict)
    else:
        raise TypeError(f"text_or_dict must be TOML text or a dict, got {type(text_or_dict).__name__}")
    if "package" not in data:
        ctx.fail("[package] type", "is missing", 'add a [package] table with type = "bga" or "qfn"')
    package = _parse_package(ctx, _table(ctx, data, "package"))
    image = _parse_image(ctx, _table(ctx, data, "image"))
    limits = _parse_limits(ctx, _table(ctx, data, "limits"))
    for key in data:
        if key not in ("package", "image", "limits"):
            ctx.warn(f"unknown table or key {key!r} ignored")
    return Recipe(package=package, image=image, limits=limits, source=str(source),
                  warnings=tuple(ctx.warnings))


def load_recipe(path) -> Recipe:
    """Read and validate a recipe TOML file.

    Parameters
    ----------
    path : str or os.PathLike
        The recipe file (UTF-8 TOML).

    Returns
    -------
    Recipe

    Raises
    ------
    RecipeError
        Missing or unreadable file, not UTF-8, malformed TOML or bad values;
        one line naming the file, the key and the fix.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise RecipeError(f"{p}: recipe file not found; check the --recipe path") from None
    except IsADirectoryError:
        raise RecipeError(f"{p}: is a folder, not a recipe file; give the .toml file") from None
    except PermissionError:
        raise RecipeError(f"{p}: permission denied; make the recipe readable") from None
    except OSError as exc:
        raise RecipeError(f"{p}: cannot read recipe ({exc.strerror or exc}); check the path") from None
    return parse_recipe(raw, source=str(p))


def default_recipe(package_type: str = "bga") -> Recipe:
    """A recipe with only the package type set: everything else is inferred.

    Parameters
    ----------
    package_type : {"bga", "qfn"}

    Returns
    -------
    Recipe
    """
    if package_type not in PACKAGE_TYPES:
        raise ValueError(f"package_type must be 'bga' or 'qfn', got {package_type!r}")
    return Recipe(package=PackageSpec(type=package_type), source="<default>")


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")


def recipe_to_toml(recipe: Recipe) -> str:
    """Write a recipe as TOML that :func:`parse_recipe` reads back equal.

    Keys left unset (None) are omitted; limits are written when the recipe set
    them or they differ from the defaults, the others appear as comments.

    Parameters
    ----------
    recipe : Recipe

    Returns
    -------
    str
        TOML text.
    """
    lines = ["[package]"]
    pkg = recipe.package
    for f in fields(PackageSpec):
        v = getattr(pkg, f.name)
        if v is None or (f.name == "depopulated" and not v):
            continue
        if f.name == "depopulated":
            v = [list(site) for site in sorted(v)]
        lines.append(f"{f.name} = {_toml_value(v)}")
    lines += ["", "[image]"]
    if recipe.image.pixel_size_um is not None:
        lines.append(f"pixel_size_um = {_toml_value(recipe.image.pixel_size_um)}")
    lines.append(f"solder = {_toml_value(recipe.image.solder)}")
    lines += ["", "[limits]"]
    defaults = Limits()
    for key in LIMIT_KEYS:
        v = float(getattr(recipe.limits, key))
        if key in recipe.limits.explicit or v != getattr(defaults, key):
            lines.append(f"{key} = {_toml_value(v)}")
        else:
            lines.append(f"# {key} = {_toml_value(v)}  (default)")
    return "\n".join(lines) + "\n"
