"""napari plugin: view scored frames, review joint calls, keep an audit trail.

Only this sub-package imports napari/Qt, and only in the modules that need
them (``_widgets``): ``_layers``, ``review`` and ``export`` are Qt-free and
usable from scripts. The npe2 manifest is ``xrayinspect/napari.yaml``.
"""

__all__ = []
