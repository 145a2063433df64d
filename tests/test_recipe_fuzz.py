"""Recipe fuzzing: parse_recipe returns a Recipe or raises a one-line RecipeError, nothing else.

About 300 hypothesis examples in all; ``scripts/fuzz_recipes.py --cases 10000`` is the long run.
"""

import math
import random

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from xrayinspect.errors import RecipeError  # noqa: E402
from xrayinspect.recipe import parse_recipe  # noqa: E402
from xrayinspect.testing.recipe_fuzz import SEED_RECIPES, TOKENS, check_recipe, mutate_text  # noqa: E402

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def assert_contract(x):
    outcome, detail = check_recipe(x)
    assert outcome != "crash", detail


toml_ish = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=4)), max_size=60).map("".join)

keys = st.sampled_from(["package", "image", "limits", "type", "rows", "cols", "pitch_mm", "ball_diameter_mm",
                        "depopulated", "pins_per_side", "pad_mm", "pixel_size_um", "solder", "ball_void_pct",
                        "ball_largest_void_pct", "pad_void_pct", "offset_frac", "zzz"])
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**400), max_value=10**400),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
                    st.sampled_from(["bga", "qfn", " BGA ", "dark", "bright", "auto"]), st.binary(max_size=4))
values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.tuples(children, children), st.dictionaries(keys, children, max_size=4)),
    max_leaves=12)
recipe_dicts = st.dictionaries(keys, values, max_size=5).map(
    lambda d: d if "package" in d or not d else {**d, "package": {"type": "bga", **d}})


@FUZZ
@given(toml_ish)
def test_random_toml_ish_text(text):
    assert_contract(text)


@FUZZ
@given(recipe_dicts)
def test_random_nested_dicts(d):
    assert_contract(d)


@FUZZ
@given(st.sampled_from(SEED_RECIPES), st.integers(0, 2**32 - 1), st.integers(1, 5))
def test_mutated_valid_recipes(text, seed, n):
    rng = random.Random(seed)
    for _ in range(n):
        text = mutate_text(text, rng)
    assert_contract(text)
    assert_contract(text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("x", [
    "a = " + "[" * 50000 + "]" * 50000,                      # RecursionError inside tomllib
    "a = " + "{b=" * 3000 + "1" + "}" * 3000,
    {"package": {"type": "bga", "pitch_mm": 10**400}},        # OverflowError in float()
    {"package": {"type": "qfn", "pad_mm": [-(10**5000), 1]}},  # over the int->str digits limit too
    {"package": {"type": "bga", "rows": 1e300}},
    {"package": {"type": "x" * 5_000_000}},                   # a 5 MB value in the message
    {"package": {"type": "bga", "rows": 3, "depopulated": [[10**400, 1]]}},
    '[package]\ntype = "bga"\nrows = ' + "9" * 3000 + "\n",
    {"package": {"type": "bga", "ball_diameter_mm": math.nan}},
])
def test_found_by_fuzzing(x):
    assert_contract(x)


def test_source_with_newline_stays_one_line():
    with pytest.raises(RecipeError) as e:
        parse_recipe("[package]\n", source="a\nb.toml")
    assert "\n" not in str(e.value) and str(e.value).startswith("a\\nb.toml: ")
