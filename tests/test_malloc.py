"""The frame-scoring processes keep freed buffers (glibc mallopt), and only they do."""

import platform
import subprocess
import sys

import pytest

glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not glibc, reason="mallopt is glibc's")
def test_keep_freed_memory_stops_page_faulting_each_frame_afresh():
    # in a fresh interpreter: the setting is process-wide
    code = (
        "import resource\n"
        "from xrayinspect._malloc import keep_freed_memory\n"
        "from xrayinspect.synth import generate_frame\n"
        "from xrayinspect.pipeline import score_frame\n"
        "img = generate_frame(7, package='bga', shape=(1024, 1024)).image\n"
        "def faults():\n"
        "    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "def run():\n"
        "    score_frame(img)\n"
        "    f0 = faults()\n"
        "    for _ in range(3):\n"
        "        score_frame(img)\n"
        "    return faults() - f0\n"
        "before = run()\n"
        "assert keep_freed_memory() is True and keep_freed_memory() is True\n"
        "print(before, run())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    before, after = int(out[0]), int(out[1])
    # glibc's defaults page-fault the frame-sized temporaries afresh on every
    # frame (about 40 000 pages for three 1024 px frames); kept, they are reused
    assert before > 10_000
    assert after < before / 10


def test_importing_the_library_leaves_the_allocator_alone():
    import xrayinspect._malloc as m
    import xrayinspect.pipeline  # noqa: F401

    code = "import xrayinspect.pipeline, xrayinspect.batch, xrayinspect._malloc as m; print(m._done)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "None"
    assert hasattr(m, "keep_freed_memory")
