"""Inputs and an oracle for fuzzing :func:`xrayinspect.recipe.parse_recipe`.

The contract: ``parse_recipe(x, source=...)`` returns a :class:`~xrayinspect.recipe.Recipe`
or raises :class:`~xrayinspect.errors.RecipeError` whose message is one line
starting with the source; nothing else. Shared by ``tests/test_recipe_fuzz.py``
(hypothesis) and ``scripts/fuzz_recipes.py`` (10,000+ seeded cases).
"""

from __future__ import annotations

import math
import random

__all__ = ["SEED_RECIPES", "TOKENS", "SOURCE", "check_recipe", "random_text", "random_dict", "mutate_text",
           "random_case"]

SOURCE = "fuzz.toml"

SEED_RECIPES = (
    '[package]\ntype = "bga"\nrows = 16\ncols = 16\npitch_mm = 0.8\nball_diameter_mm = 0.45\n'
    'depopulated = [[0, 0], [7, 8]]\n\n[image]\npixel_size_um = 12.5\nsolder = "dark"\n\n'
    '[limits]\nball_void_pct = 25.0\nball_largest_void_pct = 15.0\npad_void_pct = 50.0\noffset_frac = 0.5\n',
    '[package]\ntype = "qfn"\npins_per_side = 12\npitch_mm = 0.5\npad_mm = [3.1, 3.1]\n\n'
    '[image]\nsolder = "auto"\n\n[limits]\npad_void_pct = 40\n',
    '[package]\ntype = "bga"\n',
    'package = { type = "bga", rows = 4, cols = 4, depopulated = [[1, 1]] }\nlimits.ball_void_pct = 30\n',
)

#: Fragments random TOML-ish text is made of.
TOKENS = (
    "[package]", "[image]", "[limits]", "[[package]]", "[package.sub]", "type", "rows", "cols", "pitch_mm",
    "ball_diameter_mm", "depopulated", "pins_per_side", "pad_mm", "pixel_size_um", "solder", "ball_void_pct",
    "ball_largest_void_pct", "pad_void_pct", "offset_frac", "=", " = ", "\n", "\n", "\n", " ", "\t", "#", '"',
    "'", '"""', "'''", "[", "]", "{", "}", ",", ".", '"bga"', '"qfn"', '"dark"', '"bright"', '"auto"', "0", "1",
    "-1", "16", "0.8", "1e308", "-1e-308", "inf", "-inf", "nan", "+nan", "true", "false",
    "99999999999999999999", "0x1F", "0o17", "0b101", "1_000", "1979-05-27T07:32:00Z", "07:32:00", "\\",
    "\\u00e9", "\\U0001F600", "é", "ボール", "\x00", "\r\n", "\x7f", "\ufeff", "[[0, 0], [7, 8]]", "[3.1, 3.1]",
)

_KEYS = ("package", "image", "limits", "type", "rows", "cols", "pitch_mm", "ball_diameter_mm", "depopulated",
         "pins_per_side", "pad_mm", "pixel_size_um", "solder", "ball_void_pct", "ball_largest_void_pct",
         "pad_void_pct", "offset_frac", "extra", "")


def check_recipe(x, source=SOURCE):
    """Run ``parse_recipe(x)``; returns ``("ok"|"refused"|"crash", detail)``.

    ``crash`` is any other exception, or a RecipeError message that is not
    one line starting with ``source``.
    """
    from ..errors import RecipeError
    from ..recipe import Recipe, parse_recipe

    try:
        r = parse_recipe(x, source=source)
    except RecipeError as e:
        msg = str(e)
        if "\n" in msg or "\r" in msg or not msg.startswith(f"{source}: ") or len(msg) > 400:
            return "crash", f"RecipeError message not one short line naming the file: {msg[:300]!r}"
        return "refused", msg
    except Exception as e:  # noqa: BLE001 - that is what we are looking for
        return "crash", f"{type(e).__name__}: {str(e)[:300]}"
    if not isinstance(r, Recipe):
        return "crash", f"returned {type(r).__name__}"
    return "ok", r


def random_text(rng: random.Random, n_max=60) -> str:
    """TOML-ish text: a random sequence of :data:`TOKENS` and random characters."""
    parts = []
    for _ in range(rng.randint(0, n_max)):
        u = rng.random()
        if u < 0.85:
            parts.append(rng.choice(TOKENS))
        elif u < 0.95:
            parts.append(chr(rng.randint(0, 0x7F)))
        else:
            parts.append(chr(rng.choice((rng.randint(0x80, 0xD7FF), rng.randint(0xE000, 0x10FFFF)))))
    return "".join(parts)


def _random_value(rng: random.Random, depth=0):
    u = rng.random()
    if depth < 4 and u < 0.15:
        return random_dict(rng, depth + 1)
    if depth < 4 and u < 0.3:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return rng.choice((
        lambda: rng.randint(-3, 300),
        lambda: rng.choice((0, 1, 2, 16, 200, 201, -1, 2**63, -(2**63), 10**400)),
        lambda: rng.uniform(-10, 110),
        lambda: rng.choice((0.0, -0.0, 0.05, 5.0, 100.0, 1e308, -1e308, 1e-320, math.inf, -math.inf, math.nan)),
        lambda: rng.choice((True, False, None)),
        lambda: rng.choice(("bga", "qfn", "BGA ", "dark", "bright", "auto", "", "x" * 1000, "\n", "\x00", "é")),
        lambda: (rng.randint(0, 20), rng.randint(0, 20)),
        lambda: [[rng.randint(-2, 20), rng.randint(-2, 20)] for _ in range(rng.randint(0, 5))],
        lambda: {(1, 2)},
        lambda: b"bytes",
        lambda: object(),
    ))()


def random_dict(rng: random.Random, depth=0) -> dict:
    """A dict of nested values with recipe-like keys (what tomllib could return, and more)."""
    d = {}
    for _ in range(rng.randint(0, 6)):
        k = rng.choice(_KEYS) if rng.random() < 0.9 else rng.choice((1, None, ("a",), "ü"))
        d[k] = _random_value(rng, depth)
    if depth == 0 and rng.random() < 0.7:
        d["package"] = {k: _random_value(rng, 3) for k in rng.sample(_KEYS[3:], rng.randint(0, 6))}
        if rng.random() < 0.8:
            d["package"]["type"] = rng.choice(("bga", "qfn", "BGA", "lga", 3, None))
    return d


def mutate_text(text: str, rng: random.Random) -> str:
    """One mutation of a recipe text: delete, duplicate, insert a token, swap lines, change a number."""
    u = rng.random()
    n = len(text)
    i, j = sorted((rng.randint(0, n), rng.randint(0, n)))
    if u < 0.2:
        return text[:i] + text[j:]
    if u < 0.35:
        return text[:j] + text[i:j] + text[j:]
    if u < 0.6:
        return text[:i] + rng.choice(TOKENS) + text[i:]
    if u < 0.75:
        lines = text.split("\n")
        rng.shuffle(lines)
        return "\n".join(lines)
    if u < 0.9:
        import re

        nums = list(re.finditer(r"-?\d+(\.\d+)?", text))
        if nums:
            m = rng.choice(nums)
            rep = rng.choice(("0", "-1", "1e999", "nan", "inf", "201", "0.04", "5.01", "100.5", "2.5", '"8"',
                              "[1]", "true", "99999999999999999999999"))
            return text[: m.start()] + rep + text[m.end():]
        return text
    if u < 0.95:
        return text[:i] + chr(rng.randint(0, 0x10FFFF) if rng.random() < 0.5 else rng.randint(0, 0x7F)) + text[i:]
    b = bytearray(text.encode("utf-8", "surrogatepass"))
    if b:
        b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b).decode("utf-8", "replace")


def random_case(rng: random.Random):
    """One fuzz case: ``(kind, input)`` with kind ``text``, ``dict``, ``mutated`` or ``bytes``."""
    u = rng.random()
    if u < 0.25:
        return "text", random_text(rng)
    if u < 0.5:
        return "dict", random_dict(rng)
    if u < 0.9:
        t = rng.choice(SEED_RECIPES)
        for _ in range(rng.randint(1, 4)):
            t = mutate_text(t, rng)
        return "mutated", t
    t = rng.choice(SEED_RECIPES).encode("utf-8")
    b = bytearray(t)
    for _ in range(rng.randint(1, 4)):
        b[rng.randrange(len(b))] = rng.randrange(256)
    return "bytes", bytes(b)
