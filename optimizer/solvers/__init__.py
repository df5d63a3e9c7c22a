"""MILP backends behind one interface, and the registry that names them.

Only modules in this package import solver packages.
"""

from __future__ import annotations

from optimizer.errors import SolverUnavailable
from optimizer.solvers.base import Backend, Outcome
from optimizer.solvers.highs import HighsBackend

MILP_BACKENDS: dict[str, type[Backend]] = {"highs": HighsBackend}

try:
    from optimizer.solvers.cbc import CbcBackend

    MILP_BACKENDS["cbc"] = CbcBackend
except ImportError:  # pragma: no cover - module not written or pulp missing
    pass
try:
    from optimizer.solvers.cpsat import CpSatBackend

    MILP_BACKENDS["cp-sat"] = CpSatBackend
except ImportError:  # pragma: no cover
    pass


def backend(name: str) -> Backend:
    """An instance of the named MILP backend, or :class:`SolverUnavailable`."""
    cls = MILP_BACKENDS.get(name)
    if cls is None or not cls.available():
        raise SolverUnavailable(
            f"backend {name!r} is not available here "
            f"(installed: {', '.join(sorted(available_backends()))})"
        )
    return cls()


def available_backends() -> list[str]:
    """Names of the MILP backends that can run here."""
    return [name for name, cls in MILP_BACKENDS.items() if cls.available()]


__all__ = ["Backend", "Outcome", "available_backends", "backend"]
