"""Start-up: the engine and the CLI import only what a command needs (each check in a fresh
interpreter, reading ``sys.modules``)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optimizer import cli
from optimizer.sensitivity import DEFAULT_PRECISION

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pandas", "pyarrow", "openpyxl", "highspy", "pulp", "ortools")
WHAT_IF = (
    "optimizer.sweep",
    "optimizer.robust",
    "optimizer.sensitivity",
    "optimizer.parallel",
    "optimizer.compare",
    "optimizer.export",
    "optimizer.columnar",
    "multiprocessing",
)


def loaded_after(code: str, watch: tuple[str, ...]) -> list[str]:
    """Which of ``watch`` are in ``sys.modules`` after running ``code`` in a new interpreter."""
    listed = f"[m for m in {watch!r} if m in sys.modules]"
    probe = f"{code}\nimport json, sys\nprint(json.dumps({listed}))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


@pytest.mark.parametrize("module", ["optimizer", "optimizer.solve", "optimizer.loading"])
def test_the_engine_imports_no_heavy_package(module: str) -> None:
    assert loaded_after(f"import {module}", HEAVY) == []


def test_the_cli_imports_no_heavy_package_and_no_what_if_module() -> None:
    assert loaded_after("import optimizer.cli", HEAVY + WHAT_IF) == []


def run_cli(*args: str) -> str:
    return (
        "import sys\nfrom optimizer import cli\n"
        f"sys.argv = ['allot', *{list(args)!r}]\n"
        "try:\n    cli.app()\nexcept SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
    )


def test_a_14_region_solve_loads_no_solver_package(tmp_path: Path) -> None:
    """The exact paths finish the regions scenario (grade_order: auto picks HiGHS, the
    relaxation proves the greedy answer), so no solver package is ever imported."""
    out = tmp_path / "r.json"
    code = run_cli("solve", "scenarios/regions-2025.yaml", "--format", "json", "--out", str(out))
    assert loaded_after(code, HEAVY + WHAT_IF) == []
    assert json.loads(out.read_text(encoding="utf-8"))["status"] == "optimal"


UNUSED_BY_THE_REGIONS_RUN = (
    "rich.console",
    "rich.table",
    "optimizer.matrix_view",
    "optimizer.diagnosis",
    "optimizer.crossing",
    "optimizer.stages",
    "optimizer.components",
    "optimizer.twoway",
    "optimizer.biproportional",
    "optimizer.thresholds",
    "optimizer.order_bound",
)
"""What the 14-region run, written as JSON, takes no path through: no table is drawn, the
scenario is feasible, it is no plan (two stages, components, a matrix), and its
``grade_order`` holds at the relaxation's optimum (no threshold search)."""


def test_a_json_solve_draws_no_table_and_loads_only_its_own_path(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    code = run_cli("solve", "scenarios/regions-2025.yaml", "-f", "json", "-o", str(out))
    watch = (*UNUSED_BY_THE_REGIONS_RUN, "optimizer.paradox")
    assert loaded_after(code, watch) == ["optimizer.paradox"]  # the checks run by default
    no_checks = run_cli("solve", "scenarios/regions-2025.yaml", "-f", "json", "--no-checks")
    assert loaded_after(no_checks, watch) == []


def test_a_json_scenario_never_loads_pyyaml(tmp_path: Path) -> None:
    """PyYAML loads only to read YAML (:mod:`optimizer.yaml_text`); control: a YAML file."""
    from optimizer.loading import load_data

    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps(load_data(ROOT / "scenarios/regions-2025.yaml")))
    watch = ("yaml", "optimizer.yaml_text")
    as_json = run_cli("solve", str(scenario), "-f", "json", "--no-checks")
    assert loaded_after(as_json, watch) == []
    as_yaml = run_cli("solve", "scenarios/regions-2025.yaml", "-f", "json", "--no-checks")
    assert loaded_after(as_yaml, watch) == list(watch)


def test_a_table_on_the_terminal_and_a_plan_load_what_they_use(tmp_path: Path) -> None:
    """Control: the table format loads Rich, and a two-stage plan its module."""
    table = run_cli("solve", "scenarios/regions-2025.yaml", "-f", "table", "--no-checks")
    assert loaded_after(table, ("rich.table", "optimizer.stages")) == ["rich.table"]
    plan = run_cli("solve", "scenarios/plan-2023/two-stage.yaml", "-f", "json", "--no-checks")
    assert loaded_after(plan, ("rich.table", "optimizer.stages")) == ["optimizer.stages"]


def test_the_check_sees_a_package_a_command_does_load(tmp_path: Path) -> None:
    """Control: writing Parquet loads pyarrow, and the probe reports it; but not pandas
    (pyarrow imports it for ``pa.array``, ``to_numpy`` and Python scalars, which the
    columnar reader and writer avoid) and no solver package."""
    out = str(tmp_path / "r.parquet")
    code = run_cli("solve", "scenarios/regions-2025.yaml", "-f", "parquet", "-o", out)
    assert loaded_after(code, HEAVY) == ["pyarrow"]


def test_reading_a_columnar_file_loads_pyarrow_but_not_pandas(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": ["a", " ", None], "score": [1.5, None, float("nan")]})
    pq.write_table(table, tmp_path / "r.parquet")
    code = (
        "from optimizer.loading import read_recipients\n"
        f"assert read_recipients({str(tmp_path / 'r.parquet')!r}) == [{{'id': 'a', 'score': 1.5}}]"
    )
    assert loaded_after(code, HEAVY) == ["pyarrow"]


def test_sensitivity_help_names_the_default_precision() -> None:
    """The CLI does not import the sensitivity module for its default: the help says it."""
    help_text = CliRunner().invoke(cli.app, ["sensitivity", "--help"]).stdout
    assert f"default: {DEFAULT_PRECISION:g}." in " ".join(help_text.split())


def test_package_versions_are_read_from_the_metadata_header_as_importlib_reads_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every installed distribution's version from its header line is the one
    ``importlib.metadata.version`` parses; metadata without one falls back to it."""
    from importlib import metadata

    from optimizer import solve

    names = sorted({d.metadata["Name"] for d in metadata.distributions()})
    assert "numpy" in names
    assert [solve._installed_version(n) for n in names] == [metadata.version(n) for n in names]

    class Headless:
        def read_text(self, name: str) -> str:
            return "Metadata-Version: 2.1\nName: x\n\nVersion: not the header's\n"

    monkeypatch.setattr(metadata, "distribution", lambda name: Headless())
    monkeypatch.setattr(metadata, "version", lambda name: "9.9")
    assert solve._installed_version("x") == "9.9"


def test_a_command_starts_only_its_own_options_and_the_app_keeps_every_command() -> None:
    """``main`` builds only the named command; the root options stay, and anything that
    names no single command (help, a group, a typo) gets the whole app."""
    commands = len(cli.app.registered_commands)
    one = cli._for_command(["solve"])
    assert [c.name for c in one.registered_commands] == ["solve"]
    assert one.registered_groups == [] and one.registered_callback is cli.app.registered_callback
    assert [c.callback for c in cli._for_command(["validate"]).registered_commands] == [
        cli.validate
    ]
    for first in ([], ["--help"], ["token"], ["solv"]):
        assert cli._for_command(first) is cli.app
    assert len(cli.app.registered_commands) == commands and cli.app.registered_groups
    runner = CliRunner()
    assert runner.invoke(one, ["--version"]).stdout.startswith("allot ")
    shown = runner.invoke(one, ["solve", str(ROOT / "scenarios/regions-2025.yaml"), "-f", "json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["status"] == "optimal"


def test_allot_starts_numpy_single_threaded_and_freezes_what_importing_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The installed ``allot`` runs :func:`optimizer.start.main`, which sets OpenBLAS to one
    thread before numpy loads (a process that has loaded it keeps its pool), leaves a value
    the user set alone, and freezes what importing made before the command runs."""
    from importlib import metadata

    from optimizer import start

    (entry,) = metadata.entry_points(group="console_scripts", name="allot")
    assert entry.value == "optimizer.start:main"
    monkeypatch.setattr(sys, "argv", ["allot", "--version"])
    frozen: list[bool] = []  # (not this test process's objects: only that it was asked)
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    for given, expected in ((None, "1"), ("4", "4")):
        if given is None:
            monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
        else:
            monkeypatch.setenv("OPENBLAS_NUM_THREADS", given)
        with pytest.raises(SystemExit) as exit:
            start.main()
        assert exit.value.code in (0, None)
        assert os.environ["OPENBLAS_NUM_THREADS"] == expected
    assert frozen == [True, True]  # once a run (after the imports: the new process below)
    probe = "import os, sys\nprint(os.environ.get('OPENBLAS_NUM_THREADS'), 'numpy' in sys.modules)"
    environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    code = f"import sys\nsys.argv = ['allot', '--version']\nfrom optimizer import start\n{probe}"
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=environment
    )
    assert shown.stdout.split() == ["None", "False"]  # importing the module sets nothing
    run = (
        "import gc, sys\nsys.argv = ['allot', '--version']\nfreeze = gc.freeze\n"
        "def recorded():\n    print('frozen after', 'optimizer.cli' in sys.modules)\n    freeze()\n"
        "gc.freeze = recorded\nfrom optimizer import start\nstart.main()"
    )
    shown = subprocess.run([sys.executable, "-c", run], capture_output=True, text=True, cwd=ROOT)
    assert shown.stdout.splitlines()[0] == "frozen after True" and gc.get_freeze_count() == 0
