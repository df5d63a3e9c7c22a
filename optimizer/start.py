"""The ``allot`` command's entry point: settings that must be made before numpy loads, then
the command line (:func:`optimizer.cli.main`), with what importing made frozen out of the
cyclic garbage collector's reach.

numpy's OpenBLAS starts a thread per core when it loads, and its idle threads spin: on this
2-core machine that is 60 ms of CPU in a 0.3 s run, for nothing, since Allot does no dense
linear algebra (sorts, sums and element-wise arithmetic only). And the service's workers,
the sweeps' processes and the solve processes each run one solve at a time, so a pool per
process would only compete for the cores; joblib limits its workers' pools the same way. A
value set by the user wins.

Importing Allot and what it uses makes some 40,000 objects the collector tracks (pydantic's
schemas, typing objects, numpy's tables) that live as long as the process.
:func:`gc.freeze` moves them out of the collector's generations: no full collection walks
them again, and neither does the one at exit, which took 0.03 s of a 0.3 s run (shutdown
0.04 s, now 0.015 s). Objects made while the command runs are collected as usual.
"""

from __future__ import annotations

import gc
import os

SINGLE_THREADED = ("OPENBLAS_NUM_THREADS",)
"""Thread pools that ``allot`` and the processes it starts run single-threaded unless told
otherwise (not ``OMP_NUM_THREADS``: pyarrow's readers size their pool from it)."""


def main() -> None:
    """Console entry point (``allot``)."""
    for name in SINGLE_THREADED:
        os.environ.setdefault(name, "1")
    from optimizer.cli import main as command_line

    gc.freeze()
    command_line()
