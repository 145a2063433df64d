"""Named, versioned rule profiles: sets of pass/fail limits.

A profile supplies the ``[limits]`` a recipe leaves out; limits the recipe
sets itself always win (:func:`apply_profile`). Built-in profiles:

``ipc-a-610e``
    Total void 25 %, largest void 15 %, thermal pad 50 %, offset 0.5 x radius.
``ipc-a-610f``
    As ``ipc-a-610e`` with total ball void 30 %.
``class3``
    A tight high-reliability set: total 10 %, largest 5 %, pad 25 %, offset
    0.25 x radius.

The numbers are this project's reading of common practice, not a quotation
of the standards; check them against your copy and your customer's
requirements, or write your own profile file::

    [profile]
    name = "acme-class3"
    version = "2"
    description = "ACME incoming inspection"

    [limits]
    ball_void_pct = 12.0
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import RecipeError
from .recipe import LIMIT_KEYS, Limits, Recipe, _Ctx, _parse_limits

__all__ = ["RuleProfile", "apply_profile", "get_profile", "list_profiles"]


@dataclass(frozen=True)
class RuleProfile:
    """A named, versioned set of limits.

    Attributes
    ----------
    name : str
    version : str
    description : str
    limits : Limits
        All four limits (keys a profile file leaves out take the defaults).
    source : str
        ``"built-in"`` or the TOML file it came from.
    """

    name: str
    version: str
    description: str
    limits: Limits
    source: str = "built-in"


_BUILTIN = {
    p.name: p
    for p in (
        RuleProfile(
            "ipc-a-610e", "1",
            "IPC-A-610E-style BGA/QFN void and offset limits",
            Limits(25.0, 15.0, 50.0, 0.5, explicit=frozenset(LIMIT_KEYS)),
        ),
        RuleProfile(
            "ipc-a-610f", "1",
            "IPC-A-610F-style limits: total ball void 30 %",
            Limits(30.0, 15.0, 50.0, 0.5, explicit=frozenset(LIMIT_KEYS)),
        ),
        RuleProfile(
            "class3", "1",
            "Tight high-reliability limits (class 3 style)",
            Limits(10.0, 5.0, 25.0, 0.25, explicit=frozenset(LIMIT_KEYS)),
        ),
    )
}


def list_profiles() -> list[str]:
    """Names of the built-in rule profiles, sorted.

    Returns
    -------
    list of str
    """
    return sorted(_BUILTIN)


def get_profile(name_or_path) -> RuleProfile:
    """A built-in profile by name, or one read from a TOML file.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A built-in name (case-insensitive, see :func:`list_profiles`) or a TOML
        file with a ``[profile]`` table (``name``, ``version``,
        ``description``) and a ``[limits]`` table.

    Returns
    -------
    RuleProfile

    Raises
    ------
    RecipeError
        Unknown name, unreadable or malformed file, or bad limit values.

    Examples
    --------
    >>> get_profile("class3").limits.ball_void_pct
    10.0
    """
    key = str(name_or_path).strip().lower()
    if key in _BUILTIN:
        return _BUILTIN[key]
    p = Path(name_or_path)
    if not p.is_file():
        raise RecipeError(
            f"{name_or_path}: unknown rule profile; use one of {', '.join(list_profiles())} "
            "or the path of a profile TOML file"
        )
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise RecipeError(f"{p}: not UTF-8 text; save the profile as UTF-8") from None
    except OSError as exc:
        raise RecipeError(f"{p}: cannot read profile ({exc.strerror or exc}); check the path") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{p}: malformed TOML ({' '.join(str(exc).split())}); fix the syntax there") from None
    ctx = _Ctx(str(p))
    head = data.get("profile", {})
    lim = data.get("limits")
    if not isinstance(head, dict):
        ctx.fail("[profile]", "is not a table", "write [profile] with name and version")
    if not isinstance(lim, dict):
        ctx.fail("[limits]", "is missing", "add a [limits] table with the limits of this profile")
    limits = _parse_limits(ctx, lim)
    limits = replace(limits, explicit=frozenset(LIMIT_KEYS))
    name = head.get("name", p.stem)
    version = head.get("version", "1")
    description = head.get("description", "")
    for k, v in (("name", name), ("version", version), ("description", description)):
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            ctx.fail(f"[profile] {k}", f"= {v!r} is not text", f'write {k} = "..."')
    return RuleProfile(str(name), str(version), str(description), limits, source=str(p))


def apply_profile(recipe: Recipe, profile) -> Recipe:
    """Fill a recipe's limits from a rule profile; limits the recipe set win.

    Parameters
    ----------
    recipe : Recipe
    profile : RuleProfile or str or os.PathLike
        A profile, or a name/path for :func:`get_profile`.

    Returns
    -------
    Recipe
        A new recipe whose limits are the profile's, except the keys in
        ``recipe.limits.explicit``; ``Recipe.profile`` is ``"name@version"``.
    """
    if not isinstance(profile, RuleProfile):
        profile = get_profile(profile)
    values = {
        k: getattr(recipe.limits if k in recipe.limits.explicit else profile.limits, k)
        for k in LIMIT_KEYS
    }
    limits = Limits(**values, explicit=recipe.limits.explicit)
    return replace(recipe, limits=limits, profile=f"{profile.name}@{profile.version}")
