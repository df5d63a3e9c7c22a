"""Whole-process ``allot solve`` on firms from a Parquet file, against a floor pipeline.

``python -m benchmarks.columnar [--size 100000] [--repeat 3] [--out result.json]`` writes the
generated instance (group rules, Hamilton) as a Parquet recipients file with its scenario,
and the same scenario with the recipients inline as JSON, then times, as whole processes
and in the same run:

* the **floor**: a process that only reads the same Parquet file with pyarrow, sorts the
  scores with numpy and writes a Parquet result file of the same rows and columns, what
  any tool doing something with these firms must at least do;
* ``allot solve firms.yaml --format parquet --out`` (recipients from Parquet), with and
  without the paradox checks;
* ``allot solve firms.json --format json --out`` (the recipients inline, JSON in and out).

Each row is reported as the best wall and CPU time of ``--repeat`` runs and its ratio to
the floor's (CPU time: the shared machine's wall time varies by half). Part of ``make
bench`` (the full suite), not of CI's quick suite: one repeat takes tens of seconds.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.instances import InstanceSpec, generate

ALLOT = str(Path(sys.executable).with_name("allot"))
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
    """One measured pipeline: best wall and CPU seconds, and CPU time over the floor's."""

    pipeline: str
    wall_s: float
    cpu_s: float
    ratio: float | None = None


def write_instance(size: int, folder: Path) -> tuple[Path, Path, Path]:
    """The instance as (Parquet recipients, scenario naming them, scenario with them inline)."""
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
    inline.write_text(json.dumps(data, ensure_ascii=False))
    return parquet, named, inline


def timed(command: list[str], repeat: int) -> tuple[float, float]:
    """Best wall and CPU (user + system) seconds of ``repeat`` runs of ``command``."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr}")
    return min(walls), min(cpus)


def measure(size: int, repeat: int, folder: Path) -> list[Row]:
    """The floor and Allot's pipelines on one instance, in this run."""
    parquet, named, inline = write_instance(size, folder)
    out = folder / "out.parquet"
    commands = {
        "floor: read Parquet, sort scores (numpy), write Parquet": [
            sys.executable,
            "-c",
            FLOOR.format(n=OUT_COLUMNS),
            str(parquet),
            str(folder / "floor.parquet"),
        ],
        "allot solve, Parquet in and out, --no-checks": [
            *(ALLOT, "solve", str(named), "-f", "parquet", "-o", str(out), "--no-checks"),
        ],
        "allot solve, Parquet in and out (paradox checks)": [
            *(ALLOT, "solve", str(named), "-f", "parquet", "-o", str(out)),
        ],
        "allot solve, JSON in and out, --no-checks": [
            *(ALLOT, "solve", str(inline), "-f", "json", "-o", str(folder / "out.json")),
            "--no-checks",
        ],
    }
    rows: list[Row] = []
    for name, command in commands.items():
        wall, cpu = timed(command, repeat)
        floor = rows[0].cpu_s if rows else cpu
        rows.append(Row(name, round(wall, 3), round(cpu, 3), round(cpu / floor, 2)))
    same_answer(out, folder / "out.json")
    return rows


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
        f"| {size:,} firms, group rules (Hamilton) | wall (s) | CPU (s) | CPU / floor |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {r.pipeline} | {r.wall_s:.2f} | {r.cpu_s:.2f} | {r.ratio:.2f} |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.columnar", description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="allot-columnar-") as folder:
        rows = measure(args.size, args.repeat, Path(folder))
    sys.stdout.write(markdown(rows, args.size))
    if args.out is not None:
        args.out.write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
