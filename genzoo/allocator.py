"""Keep glibc's malloc from handing freed tensor memory back to the OS after every step.

Sampling on a CPU allocates and frees the same few-MiB activations at every denoising step.
With glibc's defaults (a dynamic mmap threshold starting at 128 KiB, heap trimming at twice
it) that memory goes back to the kernel and has to be faulted in again on the next step:
measured here, one 50-step DDIM call on 64 digits images took ~500,000 page faults and ran at
32 images/s; with the thresholds below, no faults and 53 images/s (docs/performance.md).
PyTorch's CPU tuning guides suggest the same cure by swapping in jemalloc or tcmalloc with
LD_PRELOAD; ``mallopt`` does it in-process, with nothing to install.

The genzoo CLI calls :func:`tune_cpu_allocator` at start-up. Library users can call it
themselves. It does nothing off glibc, or when the user set ``MALLOC_MMAP_THRESHOLD_`` /
``MALLOC_TRIM_THRESHOLD_`` or ``GENZOO_NO_MALLOPT=1``.
"""

from __future__ import annotations

import ctypes
import os
import sys

# glibc <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's ceiling for this setting on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX)
TRIM_THRESHOLD = 256 * 1024 * 1024  # keep up to this much free memory at the top of the heap

_done: bool | None = None


def tune_cpu_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (once). Returns True if set.

    Cost: up to ``TRIM_THRESHOLD`` of freed memory stays with the process instead of going
    back to the OS. Allocations above 32 MiB still use mmap and are returned at once.
    """
    global _done
    if _done is not None:
        return _done
    _done = False
    if not sys.platform.startswith("linux") or os.environ.get("GENZOO_NO_MALLOPT") == "1":
        return False
    if any(k in os.environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return False  # the user chose; glibc read these at start-up
    try:
        # the C library this process already runs on (no search for a libc file, no subprocess)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # a libc without mallopt: leave it alone
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    _done = bool(ok)
    return _done
