"""Allot: exact, explainable integer allocation of incentive budgets.

The public entry points are :func:`optimizer.loading.load_scenario` (read and validate a
scenario file) and :func:`optimizer.solve.solve` (allocate it). Everything else is an
implementation module with one concept each.
"""

__version__ = "0.1.0"
