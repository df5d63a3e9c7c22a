"""Whole-process ``allot solve`` on firms from a Parquet file, against a floor pipeline.

``python -m benchmarks.columnar [--size 100000] [--repeat 3] [--million] [--quick] [--gate]
[--out result.json]`` writes the generated instance (group rules, Hamilton) as a Parquet
recipients file with its scenario, and the same scenario with the recipients inline as
JSON, then times, as whole processes and in the same run:

* the **floor**: a process that only reads the same Parquet file with pyarrow, sorts the
  scores with numpy and writes a Parquet result file of the same rows and columns, what
  any tool doing something with these firms must at least do;
* ``allot solve firms.yaml --format parquet --out`` (recipients from Parquet), with and
  without the paradox checks;
* ``allot solve firms.json --format json --out`` (the recipients inline, JSON in and out);
* the 14-region example (``allot solve scenarios/regions-2025.yaml --format json``) against
  ``python -c "import numpy, pydantic"``, the start-up any Python tool built on them pays;
* with ``--million``: 1,000,000 firms from Parquet, against the floor on the same file, with
  the peak memory (maximum resident set) of the run.

Each row is reported as the best wall and CPU time of ``--repeat`` runs and its ratio to
its reference's (CPU time: the shared machine's wall time varies by half). The gates of
issue 17 are checked on the ratios (:data:`GATES`); ``--gate`` exits 1 when an enforced one
fails. ``make bench`` runs the full table with the million-firm row; ``make bench-quick``
(CI) runs ``--quick --gate``: 100,000 firms and the 14-region row, one repeat less.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.instances import InstanceSpec, generate
from optimizer.start import SINGLE_THREADED

ALLOT = str(Path(sys.executable).with_name("allot"))
ROOT = Path(__file__).resolve().parent.parent
REGIONS = ROOT / "scenarios" / "regions-2025.yaml"
RECIPIENT_FIELDS = ("id", "name", "score", "weight", "floor", "cap", "previous")
OUT_COLUMNS = 10  # the allocation table's columns (optimizer.cli.CSV_COLUMNS)

FLOOR = """
import sys
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

# numpy arrays to and from Arrow through buffers: to_numpy and pa.array would import pandas
table = pq.ParquetFile(sys.argv[1]).read()
scores = table.column("score").combine_chunks()
values = np.frombuffer(scores.buffers()[1], dtype=np.float64)[scores.offset :][: len(scores)]
order = np.argsort(-values, kind="stable")
ranked = table.take(pa.Array.from_buffers(pa.int64(), len(order), [None, pa.py_buffer(order)]))
filler = pa.Array.from_buffers(
    pa.float64(), len(order), [None, pa.py_buffer(np.arange(len(order), dtype=np.float64))]
)
columns = [ranked.column("id"), ranked.column("score")]
columns += [filler] * ({n} - len(columns))
names = ["c%d" % i for i in range(len(columns))]
pq.write_table(pa.Table.from_arrays(columns, names=names), sys.argv[2])
assert "pandas" not in sys.modules
"""


@dataclass(frozen=True)
class Row:
    """One measured pipeline: best wall and CPU seconds, CPU time over its reference's, the
    gate on that ratio (None: no gate), and the largest resident set of its runs."""

    pipeline: str
    wall_s: float
    cpu_s: float
    ratio: float | None = None
    gate: float | None = None
    peak_mb: float | None = None
    enforced: bool = True
    reference: str | None = None
    """The pipeline its ratio divides by (None: it is a reference)."""

    @property
    def held(self) -> bool | None:
        """Whether the ratio is within its gate (None without one)."""
        if self.gate is None or self.ratio is None:
            return None
        return self.ratio <= self.gate


GATES = {
    "parquet": 3.0,  # 100,000 firms, Parquet in and out, over the floor
    "json": 6.0,  # the same, JSON in and out
    "regions": 2.5,  # the 14-region run over `import numpy, pydantic`
    "million": 10.0,  # 1,000,000 firms, Parquet in and out, over the floor
}
"""Issue 17's gates on the CPU ratios."""
ENFORCED: frozenset[str] = frozenset(GATES)
"""The gates ``--gate`` fails on (after measuring again, :data:`AGAIN`): all of them."""
AGAIN = 2
"""With ``--gate``, how many more times the rows are measured while an enforced gate fails
(each pipeline keeping its best, :func:`best_of`), as the budget gates do."""
MILLION_PEAK_MB = 2048.0
"""The million-firm run's largest resident set must stay under 2 GB."""


def write_instance(size: int, folder: Path, *, with_inline: bool = True) -> tuple[Path, Path, Path]:
    """The instance as (Parquet recipients, scenario naming them, scenario with them inline;
    not written unless ``with_inline``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = generate(InstanceSpec(size, "hamilton", "groups"))
    recipients: list[dict[str, Any]] = data["recipients"]
    tags = sorted({tag for r in recipients for tag in r.get("tags", {})})
    columns: dict[str, Any] = {
        field: [r.get(field) for r in recipients]
        for field in RECIPIENT_FIELDS
        if any(field in r for r in recipients)
    }
    for tag in tags:
        columns[f"tags.{tag}"] = [
            None if tag not in r.get("tags", {}) else str(r["tags"][tag]) for r in recipients
        ]
    parquet = folder / "firms.parquet"
    pq.write_table(pa.table(columns), parquet)
    named = folder / "firms.json"
    inline = folder / "firms-inline.json"
    rest = {key: value for key, value in data.items() if key != "recipients"}
    named.write_text(json.dumps({**rest, "recipients": {"file": parquet.name}}))
    if with_inline:
        inline.write_text(json.dumps(data, ensure_ascii=False))
    return parquet, named, inline


MEASURED = """
import json, os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - started
code = os.waitstatus_to_exitcode(status)
cpu = usage.ru_utime + usage.ru_stime
with open(sys.argv[1], "w") as out:
    json.dump([code, wall, cpu, usage.ru_maxrss / 1024], out)
"""
"""Runs a command and writes its exit code, wall and CPU seconds and largest resident set
(MB: Linux counts kilobytes). A small process of its own starts it: a child forked straight
from the benchmark would count the benchmark's memory (the generated instance, hundreds of
MB) in its peak, since the resident set before ``exec`` is part of it."""


RUN_ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""The runs' environment: Python's bytecode cache on, as installed code runs (with
``PYTHONDONTWRITEBYTECODE`` every run compiles Allot's modules again, about 0.1 s of CPU);
the first of ``--repeat`` runs writes the cache, the best of them reads it."""


def timed(
    command: list[str], repeat: int, settings: dict[str, str] | None = None
) -> tuple[float, float, float]:
    """Best wall and CPU (user + system) seconds of ``repeat`` runs of ``command`` (with the
    environment variables ``settings`` added), and the largest resident set (MB) of any."""
    walls, cpus, peaks = [], [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            report = Path(folder) / "usage.json"
            done = subprocess.run(
                [sys.executable, "-c", MEASURED, str(report), *command],
                capture_output=True,
                text=True,
                cwd=ROOT,
                env={**RUN_ENVIRONMENT, **(settings or {})},
                check=False,
            )
            if done.returncode != 0 or not report.exists():
                raise SystemExit(f"{' '.join(command)} could not be measured: {done.stderr}")
            code, wall, cpu, peak = json.loads(report.read_text())
        if code != 0:
            raise SystemExit(f"{' '.join(command)} failed ({code}): {done.stderr}")
        walls.append(wall)
        cpus.append(cpu)
        peaks.append(peak)
    return min(walls), min(cpus), max(peaks)


def floor_command(parquet: Path, out: Path) -> list[str]:
    """The floor pipeline on ``parquet``."""
    return [sys.executable, "-c", FLOOR.format(n=OUT_COLUMNS), str(parquet), str(out)]


def measure(size: int, repeat: int, folder: Path, *, checks: bool = True) -> list[Row]:
    """The floor and Allot's pipelines on one instance, in this run (``checks``: also the
    run with the paradox checks, a few solves more)."""
    parquet, named, inline = write_instance(size, folder)
    out, json_out = folder / "out.parquet", folder / "out.json"
    commands: dict[str, tuple[list[str], str | None]] = {
        "floor: read Parquet, sort scores (numpy), write Parquet": (
            floor_command(parquet, folder / "floor.parquet"),
            None,
        ),
        "allot solve, Parquet in and out, --no-checks": (
            [ALLOT, "solve", str(named), "-f", "parquet", "-o", str(out), "--no-checks"],
            "parquet",
        ),
        "allot solve, Parquet in and out (paradox checks)": (
            [ALLOT, "solve", str(named), "-f", "parquet", "-o", str(out)],
            None,
        ),
        "allot solve, JSON in and out, --no-checks": (
            [ALLOT, "solve", str(inline), "-f", "json", "--no-checks", "-o", str(json_out)],
            "json",
        ),
    }
    if not checks:
        del commands["allot solve, Parquet in and out (paradox checks)"]
    rows: list[Row] = []
    for name, (command, gate) in commands.items():
        wall, cpu, peak = timed(command, repeat)
        rows.append(_row(name, wall, cpu, rows[0] if rows else None, gate, peak))
    same_answer(out, json_out)
    runs = {name: command for name, (command, _) in commands.items()}
    return rows + like_for_like(rows, runs, repeat)


POOL = dict.fromkeys(SINGLE_THREADED, str(os.cpu_count() or 1))
"""OpenBLAS's default: a thread per core (the references as the issue states them)."""
SINGLE = dict.fromkeys(SINGLE_THREADED, "1")
"""OpenBLAS single-threaded, as ``allot`` runs it (:mod:`optimizer.start`)."""


def like_for_like(rows: list[Row], commands: dict[str, list[str]], repeat: int) -> list[Row]:
    """Each gated run against its reference (``rows[0]``) with the same OpenBLAS setting on
    both sides, reported: ``allot`` told to keep a thread per core like the reference, and
    the reference single-threaded like ``allot``. The gates divide ``allot`` as installed by
    the reference as the issue states it; an idle pool's spinning is CPU time on one side
    only there (0.06 to 0.16 s a process on this machine)."""
    reference, gated = rows[0], [r for r in rows if r.gate is not None]
    out = []
    for row in gated:
        wall, cpu, peak = timed(commands[row.pipeline], repeat, POOL)
        name = f"{row.pipeline}, OpenBLAS pool as its reference's"
        out.append(_row(name, wall, cpu, reference, None, peak))
    wall, cpu, peak = timed(commands[reference.pipeline], repeat, SINGLE)
    alike = _row(f"{reference.pipeline}, OpenBLAS single-threaded", wall, cpu, None, None, peak)
    out.append(alike)
    for row in gated:
        name = f"{row.pipeline}, against it"
        out.append(_row(name, row.wall_s, row.cpu_s, alike, None, row.peak_mb or 0))
    return out


REGIONS_REPEAT = 7
"""The 14-region rows take the best of at least this many runs: a third of a second each,
and the shortest runs vary the most."""


def measure_regions(repeat: int, folder: Path) -> list[Row]:
    """The 14-region example, whole process, against ``python -c "import numpy, pydantic"``
    (and :func:`like_for_like`)."""
    repeat = max(repeat, REGIONS_REPEAT)
    runs = {
        'python -c "import numpy, pydantic"': [sys.executable, "-c", "import numpy, pydantic"],
        "allot solve, 14 regions (paradox checks), JSON out": [
            *(ALLOT, "solve", str(REGIONS), "-f", "json", "-o", str(folder / "r.json"))
        ],
    }
    (base, base_run), (name, run) = runs.items()
    wall, cpu, peak = timed(base_run, repeat)
    rows = [_row(base, wall, cpu, None, None, peak)]
    wall, cpu, peak = timed(run, repeat)
    rows.append(_row(name, wall, cpu, rows[0], "regions", peak))
    return rows + like_for_like(rows, runs, repeat)


def measure_million(folder: Path) -> list[Row]:
    """1,000,000 firms from Parquet, once, against the floor on the same file."""
    parquet, named, _ = write_instance(1_000_000, folder, with_inline=False)
    out = folder / "million.parquet"
    wall, cpu, peak = timed(floor_command(parquet, folder / "floor.parquet"), 1)
    rows = [_row("floor, 1,000,000 firms", wall, cpu, None, None, peak)]
    command = [ALLOT, "solve", str(named), "-f", "parquet", "-o", str(out), "--no-checks"]
    wall, cpu, peak = timed(command, 1)
    name = "allot solve, 1,000,000 firms, Parquet in and out, --no-checks"
    rows.append(_row(name, wall, cpu, rows[0], "million", peak))
    return rows


def _row(
    name: str,
    wall: float,
    cpu: float,
    reference: Row | None,
    gate: str | None,
    peak: float,
) -> Row:
    """A measured pipeline; ``reference`` None: it is its own reference."""
    return Row(
        name,
        round(wall, 3),
        round(cpu, 3),
        1.0 if reference is None else round(cpu / reference.cpu_s, 2),
        GATES[gate] if gate else None,
        round(peak, 1),
        gate in ENFORCED,
        None if reference is None else reference.pipeline,
    )


def best_of(first: list[Row], again: list[Row]) -> list[Row]:
    """Two measurements of the same pipelines merged: each pipeline keeps its lower CPU time
    (and the larger peak), and each ratio divides the best by its reference's best. A gate
    over by the shared machine's noise is measured again before it fails the run."""
    earlier = {r.pipeline: r for r in first}
    kept = []
    for row in again:
        old = earlier[row.pipeline]
        best = row if row.cpu_s < old.cpu_s else old
        kept.append(replace(best, peak_mb=max(row.peak_mb or 0, old.peak_mb or 0)))
    cpu = {r.pipeline: r.cpu_s for r in kept}
    return [
        r if r.reference is None else replace(r, ratio=round(r.cpu_s / cpu[r.reference], 2))
        for r in kept
    ]


def same_answer(parquet: Path, result_json: Path) -> None:
    """The check: the Parquet run and the JSON run allocate the same units to the same ids."""
    import pyarrow.parquet as pq

    table = pq.read_table(parquet, columns=["id", "units"]).to_pydict()
    from_parquet = dict(zip(table["id"], table["units"], strict=True))
    allocations = json.loads(result_json.read_text(encoding="utf-8"))["allocations"]
    from_json = {a["id"]: a["units"] for a in allocations}
    if not from_json or from_parquet != from_json:
        raise SystemExit("CHECK FAILED: the Parquet and JSON runs allocate differently")


def markdown(rows: list[Row], size: int) -> str:
    lines = [
        f"| {size:,} firms, group rules (Hamilton) | wall (s) | CPU (s) | CPU / reference "
        "| gate | peak MB |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        gate = "" if r.gate is None else f"<= {r.gate:g}: {'holds' if r.held else 'FAILS'}"
        if r.gate is not None and not r.enforced:
            gate += " (not enforced)"
        lines.append(
            f"| {r.pipeline} | {r.wall_s:.2f} | {r.cpu_s:.2f} | {r.ratio:.2f} | {gate} "
            f"| {r.peak_mb or 0:,.0f} |"
        )
    return "\n".join(lines) + "\n"


def failures(rows: list[Row]) -> list[str]:
    """What broke a gate: a ratio over it, or the million-firm run over its memory
    (``enforced``: only the gates in :data:`ENFORCED`)."""
    out = []
    for r in rows:
        if r.held is False:
            out.append(f"{r.pipeline}: {r.ratio:.2f} x its reference, over the gate {r.gate:g}")
        if r.gate == GATES["million"] and r.peak_mb is not None and r.peak_mb > MILLION_PEAK_MB:
            out.append(f"{r.pipeline}: peak {r.peak_mb:,.0f} MB, over {MILLION_PEAK_MB:,.0f}")
    return out


def enforced_failures(rows: list[Row]) -> list[str]:
    """:func:`failures` of the enforced gates only."""
    return failures([r for r in rows if r.enforced])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.columnar", description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--million", action="store_true", help="add the 1,000,000-firm row")
    parser.add_argument(
        "--quick", action="store_true", help="CI: no paradox-check row, one repeat less"
    )
    parser.add_argument("--gate", action="store_true", help="exit 1 when an enforced gate fails")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    repeat = max(1, args.repeat - 1) if args.quick else args.repeat

    def measured() -> list[Row]:
        with tempfile.TemporaryDirectory(prefix="allot-columnar-") as folder:
            rows = measure(args.size, repeat, Path(folder), checks=not args.quick)
            rows += measure_regions(repeat, Path(folder))
            if args.million:
                rows += measure_million(Path(folder))
        return rows

    rows = measured()
    for _ in range(AGAIN):
        if not (args.gate and enforced_failures(rows)):
            break
        sys.stdout.write(f"over an enforced gate: measuring again ({enforced_failures(rows)})\n")
        rows = best_of(rows, measured())
    sys.stdout.write(markdown(rows, args.size))
    if args.out is not None:
        args.out.write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    for line in failures(rows):
        enforced = line in enforced_failures(rows)
        sys.stdout.write(f"GATE {'FAILED' if enforced else 'not met (not enforced)'}: {line}\n")
    return 1 if enforced_failures(rows) and args.gate else 0


if __name__ == "__main__":
    sys.exit(main())
