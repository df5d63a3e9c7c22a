"""Python's cyclic garbage collector, paused while large object graphs are built.

Reading, validating, solving and explaining a large scenario creates a few objects per
recipient (dicts, models, allocations); with the scenario's own objects alive, each of the
collector's passes walks them all, for nothing: none of this creates reference cycles.
Measured at 100,000 recipients: 2 to 3 s of a 7.7 s ``allot solve``, 1.2 s of a 1.4 s
``Result.to_dict``.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic collector inside the block; its state is restored afterwards, so a
    caller that disabled it keeps it disabled (reference counting frees memory as usual)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
