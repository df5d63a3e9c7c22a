"""Runs per second of the service's workers (README "Running in production").

``python -m benchmarks.service_throughput [--runs 60] [--workers 1 2 4] [--database-url URL]``
starts ``K`` ``allot worker --concurrency 1`` processes on a fresh database (a SQLite file,
or a new schema of the PostgreSQL at ``URL``), warms each up with one run, then queues
``--runs`` runs of one scenario in one transaction and times them until the last is final.
Scenarios: the 14-region example and the 840-programme benchmark instance (every rule).
Not part of the benchmark suite: it starts processes and its figures depend on the cores.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

# the service's workers are what is measured, so this one benchmark imports the service
from api import lease, store  # noqa: TID251
from api.db import Database, Run, RunStatus  # noqa: TID251
from api.main import open_database  # noqa: TID251
from api.settings import Settings  # noqa: TID251
from benchmarks.instances import InstanceSpec, generate
from optimizer.loading import load_scenario, validate_data

ROOT = Path(__file__).resolve().parents[1]
ALLOT = str(Path(sys.executable).with_name("allot"))
FINAL = [s.value for s in RunStatus if s.is_final]


def scenarios() -> dict[str, dict[str, Any]]:
    """The two measured scenarios, by label."""
    regions = load_scenario(ROOT / "scenarios" / "regions-2025.yaml").model_dump(mode="json")
    programmes = generate(InstanceSpec(size=840, objective="hamilton", rules="all"))
    return {"14 regions": regions, "840 programmes (all rules)": programmes}


def _queue(database: Database, data: dict[str, Any], count: int) -> None:
    scenario = validate_data(data)
    prepared = store.Prepared(scenario=scenario, body=scenario.model_dump(mode="json"))
    with database.transaction() as session:
        for _ in range(count):
            store.add_run(session, prepared, requested_by="benchmark", status=RunStatus.QUEUED)
    lease.announce(database)  # as the API does: on PostgreSQL idle workers wake at once


def _final(database: Database) -> tuple[int, int]:
    with database.transaction() as session:
        final = session.scalar(select(func.count()).where(Run.status.in_(FINAL))) or 0
        total = session.scalar(select(func.count()).select_from(Run)) or 0
    return final, total


def _until_all_final(database: Database) -> None:
    while True:
        final, total = _final(database)
        if final == total:
            return
        time.sleep(0.02)


def measure(data: dict[str, Any], *, workers: int, runs: int, url: str | None) -> float:
    """Runs per second of ``workers`` worker processes on ``runs`` queued runs of ``data``."""
    with tempfile.TemporaryDirectory() as scratch:
        schema = f"bench_{uuid.uuid4().hex[:12]}" if url else None
        settings = Settings(
            database_url=url or f"sqlite:///{scratch}/allot.db", database_schema=schema, workers=0
        )
        database = open_database(settings)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALLOT_")}
        env["ALLOT_DATABASE_URL"] = settings.database_url
        if schema:
            env["ALLOT_DATABASE_SCHEMA"] = schema
        processes = [
            subprocess.Popen(
                [ALLOT, "worker", "--concurrency", "1"],
                env=env,
                cwd=scratch,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        try:
            while True:
                with database.transaction() as session:
                    if lease.live_workers(session, lease_s=settings.run_lease_s) == workers:
                        break
                time.sleep(0.1)
            _queue(database, data, 2 * workers)  # warm-up: every solve process started
            _until_all_final(database)
            begun = time.perf_counter()
            _queue(database, data, runs)
            _until_all_final(database)
            return runs / (time.perf_counter() - begun)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(60)
            if schema:
                with database.engine.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            database.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    out = sys.stdout
    out.write(f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}; {args.runs} runs\n")
    out.write("| scenario | " + " | ".join(f"{k} worker(s)" for k in args.workers) + " |\n")
    out.write("|---|" + "---:|" * len(args.workers) + "\n")
    for label, data in scenarios().items():
        rates = [
            measure(data, workers=k, runs=args.runs, url=args.database_url) for k in args.workers
        ]
        out.write(f"| {label} | " + " | ".join(f"{r:.1f} runs/s" for r in rates) + " |\n")
        out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
