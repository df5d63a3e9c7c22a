"""The Allot allocation service: stored scenarios and runs, comparisons, sweeps, roles, jobs.

Build the app with :func:`api.main.create_app`; ``allot serve`` runs it under uvicorn. The
service calls :mod:`optimizer` and owns all I/O with clients and the database.
"""
