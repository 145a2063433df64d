"""Shared test helpers."""

import importlib.util
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture(scope="session")
def load_script():
    """Import ``scripts/<name>.py`` as a module (the scripts are not a package)."""
    def load(name):
        spec = importlib.util.spec_from_file_location(f"xrayinspect_script_{name}", SCRIPTS / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    return load
