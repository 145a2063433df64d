"""Fuzz read_frame: any bytes give a 2-D frame or a FrameReadError, nothing else."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xrayinspect.testing.fuzz import check_one, mutate, seed_files

SEEDS = seed_files()
SUFFIXES = [".tif", ".png", ".jpg", ".bmp", ".dcm", ".dat"]
FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _check(tmp_path, data: bytes, suffix: str):
    p = tmp_path / f"fuzz{suffix}"
    p.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome, exc = check_one(p)
    assert outcome != "crash", f"{type(exc).__name__}: {exc}"


def test_seed_files_read_ok(tmp_path):
    from xrayinspect.io import read_frame

    for name, data in SEEDS.items():
        p = tmp_path / f"{name}.bin"
        p.write_bytes(data)
        img, _ = read_frame(p)
        assert img.ndim == 2, name


@FUZZ
@given(data=st.binary(min_size=0, max_size=2048), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes(tmp_path, data, suffix):
    _check(tmp_path, data, suffix)


@FUZZ
@given(
    name=st.sampled_from(sorted(SEEDS)),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 4),
    suffix=st.sampled_from(SUFFIXES),
)
def test_mutated_valid_files(tmp_path, name, seed, n, suffix):
    rng = np.random.default_rng(seed)
    data = SEEDS[name]
    for _ in range(n):
        data = mutate(data, rng)
    _check(tmp_path, data, suffix)
