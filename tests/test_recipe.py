"""Tests of xrayinspect.recipe and xrayinspect.profiles."""

import pytest

from xrayinspect.errors import RecipeError
from xrayinspect.profiles import RuleProfile, apply_profile, get_profile, list_profiles
from xrayinspect.recipe import (
    ImageSpec,
    Limits,
    PackageSpec,
    Recipe,
    default_recipe,
    load_recipe,
    parse_recipe,
    recipe_to_toml,
)

FULL = """
[package]
type = "bga"
rows = 16
cols = 16
pitch_mm = 0.8
ball_diameter_mm = 0.45
depopulated = [[0, 0], [7, 8]]

[image]
pixel_size_um = 12.5
solder = "dark"

[limits]
ball_void_pct = 20.0
offset_frac = 0.4
"""

QFN = """
[package]
type = "qfn"
pitch_mm = 0.5
pins_per_side = 12
pad_mm = [3.1, 3.1]
"""


def test_parse_full_bga():
    r = parse_recipe(FULL)
    assert r.package == PackageSpec("bga", 16, 16, 0.8, 0.45, frozenset({(0, 0), (7, 8)}))
    assert r.image == ImageSpec(12.5, "dark")
    assert r.limits.ball_void_pct == 20.0 and r.limits.ball_largest_void_pct == 15.0
    assert r.limits.explicit == {"ball_void_pct", "offset_frac"}
    assert r.warnings == ()


def test_parse_qfn_and_defaults():
    r = parse_recipe(QFN)
    assert r.package.type == "qfn" and r.package.pad_mm == (3.1, 3.1) and r.package.pins_per_side == 12
    assert r.limits == Limits() and r.image == ImageSpec()


def test_minimal_and_default_recipe():
    r = parse_recipe('[package]\ntype = "BGA"\n')
    assert r == default_recipe("bga")
    assert default_recipe("qfn").package.type == "qfn"
    with pytest.raises(ValueError):
        default_recipe("lga")


@pytest.mark.parametrize("text", [FULL, QFN, '[package]\ntype = "bga"\n'])
def test_roundtrip(text):
    r = parse_recipe(text)
    back = parse_recipe(recipe_to_toml(r))
    assert back == r
    assert back.limits.explicit == r.limits.explicit


def test_dict_input():
    r = parse_recipe({"package": {"type": "qfn"}, "limits": {"pad_void_pct": 40}})
    assert r.limits.pad_void_pct == 40.0


def test_unknown_keys_warn():
    r = parse_recipe('[package]\ntype = "bga"\ncolour = "red"\npad_mm = [1, 1]\n[extra]\na = 1\n[limits]\nfoo = 2\n')
    text = " | ".join(r.warnings)
    assert "colour" in text and "extra" in text and "foo" in text and "QFN key" in text
    assert all("\n" not in w for w in r.warnings)


@pytest.mark.parametrize(
    "body, key",
    [
        ('[package]\nrows = 3\n', "type"),
        ('[image]\nsolder = "dark"\n', "type"),
        ('[package]\ntype = "lga"\n', "type"),
        ('[package]\ntype = "bga"\nrows = 0\n', "rows"),
        ('[package]\ntype = "bga"\nrows = 201\n', "rows"),
        ('[package]\ntype = "bga"\nrows = "16"\n', "rows"),
        ('[package]\ntype = "bga"\nrows = true\n', "rows"),
        ('[package]\ntype = "bga"\npitch_mm = 0\n', "pitch_mm"),
        ('[package]\ntype = "bga"\npitch_mm = -0.8\n', "pitch_mm"),
        ('[package]\ntype = "bga"\npitch_mm = 50\n', "pitch_mm"),
        ('[package]\ntype = "bga"\npitch_mm = nan\n', "pitch_mm"),
        ('[package]\ntype = "bga"\npitch_mm = 0.5\nball_diameter_mm = 0.6\n', "ball_diameter_mm"),
        ('[package]\ntype = "bga"\nrows = 4\ncols = 4\ndepopulated = [[4, 0]]\n', "depopulated"),
        ('[package]\ntype = "bga"\ndepopulated = [[1]]\n', "depopulated"),
        ('[package]\ntype = "bga"\ndepopulated = [[-1, 0]]\n', "depopulated"),
        ('[package]\ntype = "qfn"\npad_mm = [3.1]\n', "pad_mm"),
        ('[package]\ntype = "qfn"\npins_per_side = 0\n', "pins_per_side"),
        ('[package]\ntype = "bga"\n[image]\npixel_size_um = 0.1\n', "pixel_size_um"),
        ('[package]\ntype = "bga"\n[image]\npixel_size_um = 900\n', "pixel_size_um"),
        ('[package]\ntype = "bga"\n[image]\nsolder = "grey"\n', "solder"),
        ('[package]\ntype = "bga"\n[limits]\nball_void_pct = 120\n', "ball_void_pct"),
        ('[package]\ntype = "bga"\n[limits]\npad_void_pct = -1\n', "pad_void_pct"),
        ('[package]\ntype = "bga"\n[limits]\noffset_frac = 3\n', "offset_frac"),
        ('package = 3\n', "package"),
        ('[package\ntype = "bga"\n', "malformed TOML"),
    ],
)
def test_bad_values_raise_one_line(body, key):
    with pytest.raises(RecipeError) as ei:
        parse_recipe(body, source="r.toml")
    msg = str(ei.value)
    assert msg.startswith("r.toml: ") and key in msg and "\n" not in msg
    assert ";" in msg  # carries a fix


def test_load_recipe_errors(tmp_path):
    with pytest.raises(RecipeError, match="not found"):
        load_recipe(tmp_path / "nope.toml")
    p = tmp_path / "latin1.toml"
    p.write_bytes('[package]\ntype = "bga"\n# Lötstelle\n'.encode("latin-1"))
    with pytest.raises(RecipeError, match="UTF-8"):
        load_recipe(p)
    with pytest.raises(RecipeError, match="folder"):
        load_recipe(tmp_path)
    good = tmp_path / "good.toml"
    good.write_text(FULL, encoding="utf-8")
    r = load_recipe(good)
    assert r.source == str(good) and r.package.rows == 16


def test_recipe_is_frozen():
    r = parse_recipe(FULL)
    with pytest.raises(AttributeError):
        r.package.rows = 3
    assert isinstance(r, Recipe)


# ---------------------------------------------------------------- profiles


def test_builtin_profiles():
    assert list_profiles() == ["class3", "ipc-a-610e", "ipc-a-610f"]
    e, f, c3 = get_profile("ipc-a-610e"), get_profile("IPC-A-610F"), get_profile("class3")
    assert isinstance(e, RuleProfile) and e.version
    assert (e.limits.ball_void_pct, e.limits.ball_largest_void_pct, e.limits.pad_void_pct, e.limits.offset_frac) == (25, 15, 50, 0.5)
    assert f.limits.ball_void_pct == 30
    assert (c3.limits.ball_void_pct, c3.limits.ball_largest_void_pct, c3.limits.pad_void_pct, c3.limits.offset_frac) == (10, 5, 25, 0.25)


def test_apply_profile_recipe_wins():
    r = parse_recipe(FULL)  # sets ball_void_pct 20 and offset_frac 0.4
    a = apply_profile(r, "class3")
    assert a.limits.ball_void_pct == 20.0 and a.limits.offset_frac == 0.4
    assert a.limits.ball_largest_void_pct == 5.0 and a.limits.pad_void_pct == 25.0
    assert a.profile == "class3@1"
    # an explicit value equal to the default still wins
    r2 = parse_recipe('[package]\ntype = "bga"\n[limits]\nball_void_pct = 25.0\n')
    assert apply_profile(r2, "ipc-a-610f").limits.ball_void_pct == 25.0
    assert apply_profile(default_recipe(), "ipc-a-610f").limits.ball_void_pct == 30.0


def test_profile_from_file(tmp_path):
    p = tmp_path / "acme.toml"
    p.write_text('[profile]\nname = "acme"\nversion = "2"\n[limits]\nball_void_pct = 12\n', encoding="utf-8")
    prof = get_profile(p)
    assert prof.name == "acme" and prof.version == "2" and prof.source == str(p)
    assert prof.limits.ball_void_pct == 12.0 and prof.limits.pad_void_pct == 50.0
    assert apply_profile(default_recipe(), str(p)).limits.ball_void_pct == 12.0


def test_profile_errors(tmp_path):
    with pytest.raises(RecipeError, match="unknown rule profile"):
        get_profile("ipc-9999")
    p = tmp_path / "bad.toml"
    p.write_text("[limits]\nball_void_pct = 200\n", encoding="utf-8")
    with pytest.raises(RecipeError, match="ball_void_pct"):
        get_profile(p)
    p.write_text("[profile]\nname='x'\n", encoding="utf-8")
    with pytest.raises(RecipeError, match="limits"):
        get_profile(p)
    p.write_text("[limits\n", encoding="utf-8")
    with pytest.raises(RecipeError, match="malformed"):
        get_profile(p)
