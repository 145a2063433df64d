"""`import xrayinspect` (and its core modules) must not load heavy optional stacks."""

import json
import subprocess
import sys

HEAVY = ("torch", "napari", "qtpy", "PyQt6", "PyQt5", "PySide6", "dask", "distributed", "pandas")


def _loaded(code: str) -> list[str]:
    prog = code + f"\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_package_is_light():
    assert _loaded("import xrayinspect") == []


def test_import_core_modules_is_light():
    code = "import xrayinspect.io, xrayinspect.recipe, xrayinspect.profiles, xrayinspect.testing.bad_inputs"
    assert _loaded(code) == []
