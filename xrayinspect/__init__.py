"""xrayinspect: judge hidden BGA and QFN solder joints in X-ray frames.

The core (``io``, ``recipe``, ``synth``, segmentation, voids, grid, defects,
results) is pure functions on numpy arrays. Optional layers (``batch`` with
dask, ``classifier`` with torch, ``napari_plugin`` with napari) import their
extra only when used.
"""

from ._version import __version__
from .errors import FrameReadError, RecipeError, XrayInspectError

__all__ = ["__version__", "FrameReadError", "RecipeError", "XrayInspectError"]
