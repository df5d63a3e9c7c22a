"""The ``allot`` command's entry point: settings that must be made before numpy loads, then
the command line (:func:`optimizer.cli.main`).

numpy's OpenBLAS starts a thread per core when it loads, and its idle threads spin: on this
2-core machine that is 60 ms of CPU in a 0.3 s run, for nothing, since Allot does no dense
linear algebra (sorts, sums and element-wise arithmetic only). And the service's workers,
the sweeps' processes and the solve processes each run one solve at a time, so a pool per
process would only compete for the cores; joblib limits its workers' pools the same way. A
value set by the user wins.
"""

from __future__ import annotations

import os

SINGLE_THREADED = ("OPENBLAS_NUM_THREADS",)
"""Thread pools that ``allot`` and the processes it starts run single-threaded unless told
otherwise (not ``OMP_NUM_THREADS``: pyarrow's readers size their pool from it)."""


def main() -> None:
    """Console entry point (``allot``)."""
    for name in SINGLE_THREADED:
        os.environ.setdefault(name, "1")
    from optimizer.cli import main as command_line

    command_line()
