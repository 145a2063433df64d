"""Score one frame: read -> prepare -> segment -> measure -> judge.

(Placeholder while the BGA/QFN scoring lands: the signatures are final.)
"""

import time

from .errors import XrayInspectError
from .results import FrameResult, error_result


def score_frame(image, *, recipe=None, profile=None, frame="", meta=None, classifier=None):
    """Score one frame held in memory.

    Parameters
    ----------
    image : ndarray, 2-D
        Grey frame as read (uint8, uint16 or float32).
    recipe : xrayinspect.recipe.Recipe, optional
        Package description; inferred from the image when None.
    profile : str or RuleProfile, optional
        Rule profile name (default ``"ipc-a-610e"``).
    frame : str
        Name written in the tables.
    meta : xrayinspect.io.FrameMeta, optional
        What the file said (bits used, pixel size).
    classifier : object with ``predict_proba(patches)``, optional

    Returns
    -------
    FrameResult
    """
    t0 = time.perf_counter()
    r = FrameResult(frame=frame, package="bga", shape=tuple(image.shape))
    r.seconds = time.perf_counter() - t0
    return r


def score_file(path, *, frame=None, recipe=None, profile=None, classifier=None, max_pixels=None):
    """Read and score one file; bad input becomes a ``status=error`` result, never an exception.

    Parameters
    ----------
    path : path-like
    frame : str, optional
        Name for the tables (default: the file name).
    recipe, profile, classifier
        As for :func:`score_frame`.
    max_pixels : int, optional
        Refuse frames larger than this (default: :data:`xrayinspect.io.DEFAULT_MAX_PIXELS`).

    Returns
    -------
    FrameResult
    """
    from . import io as xio

    name = frame if frame is not None else str(path).replace("\\", "/").rsplit("/", 1)[-1]
    try:
        kw = {} if max_pixels is None else {"max_pixels": max_pixels}
        image, meta = xio.read_frame(path, **kw)
        return score_frame(image, recipe=recipe, profile=profile, frame=name, meta=meta, classifier=classifier)
    except XrayInspectError as e:
        return error_result(name, str(e))
    except MemoryError:
        return error_result(name, f"{path}: out of memory while scoring")
    except Exception as e:  # a scoring bug must not stop a batch; say what it was
        return error_result(name, f"{path}: could not be scored ({type(e).__name__}: {e})")
