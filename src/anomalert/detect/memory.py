"""Allocator settings that keep a tick of the batch engine from faulting memory back in.

A tick allocates and frees its temporaries (frames, the kernels' output arrays) for every
series; see ``keep_freed_memory``.
"""

from __future__ import annotations

import numpy as np

#: Largest block whose release still raises glibc's thresholds (DEFAULT_MMAP_THRESHOLD_MAX
#: on 64-bit systems is 32 MiB, page rounding included).
_MAX_HEAP_HINT = 31 << 20


def keep_freed_memory(n: int) -> None:
    """Let the C allocator reuse the memory a tick frees instead of returning it to the OS.

    Why: a tick over n series allocates and frees a few hundred bytes of temporaries per
    series (frames, caches). glibc's malloc gives the free top of its heap back to the OS
    as soon as it exceeds the trim threshold, which is twice the largest mmap-ed block
    freed so far (128 KB at start), so at 10,000 series every tick faulted about 850 pages
    back in: a quarter of its time. Freeing one mmap-ed block raises both thresholds to
    its size (the dynamic threshold of mallopt(3)); the block is never touched, so this
    costs an mmap/munmap pair once per engine. Other allocators just see an allocation.
    """
    size = min(1024 * n, _MAX_HEAP_HINT)
    if size > 1 << 20:
        np.empty(size, dtype=np.uint8)
