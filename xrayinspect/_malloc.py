"""Keep freed frame-sized buffers in the process for the next frame (glibc only).

Scoring a 2048 x 2048 frame makes a few dozen temporary arrays of 4-16 MB.
By default glibc hands a freed block above its trim threshold back to the
kernel, so the next array of that size is page-faulted afresh (one fault per
4 KiB page, the kernel zeroing each): on the BGA benchmark frame that was
about 40 000 faults and a fifth of the time per frame. Frame scoring
processes (the CLI, pool and Dask workers, the benchmark) ask glibc to keep
up to 1 GiB of freed memory instead; the process keeps its peak resident
size (a few hundred MB per worker) between frames.

Not called on import: a library must not change its host's allocator.
"""

import ctypes
import ctypes.util
import sys

#: mallopt parameter numbers (glibc malloc.h).
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
#: Largest block served from the heap (glibc's own ceiling on 64-bit), bytes.
MMAP_THRESHOLD = 32 << 20
#: Free memory kept at the top of the heap before it is returned, bytes.
TRIM_THRESHOLD = 1 << 30
#: Extra heap asked for at each growth, bytes.
TOP_PAD = 64 << 20

_done = None


def keep_freed_memory():
    """Ask glibc's malloc to reuse freed large blocks rather than return them.

    Returns
    -------
    bool
        True when the settings were taken (Linux with glibc), False elsewhere
        (nothing changes: the platform's allocator keeps its defaults).
    """
    global _done
    if _done is not None:
        return _done
    _done = False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):      # musl and others: no mallopt
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
                 and mallopt(_M_TOP_PAD, TOP_PAD))
    return _done
