"""The ``allot`` command line: ``allot validate FILE`` and ``allot solve FILE``; the what-if
commands ``compare``, ``sweep``, ``robust`` and ``sensitivity``; the service's commands.

A thin layer over :mod:`optimizer`: it loads a scenario with
:func:`optimizer.loading.load_scenario`, solves it with :func:`optimizer.solve.solve` and
prints the :class:`~optimizer.result.Result` as a Rich table, JSON (exactly
``Result.to_dict``) or CSV. The what-if commands call :mod:`optimizer.compare`,
:mod:`optimizer.sweep`, :mod:`optimizer.robust` and :mod:`optimizer.sensitivity` and print
their reports (files through :mod:`optimizer.export`); ``robust`` and ``sensitivity`` exit
1 (diagnosis on stderr) when the scenario itself is infeasible, and ``compare`` and
``sweep`` exit 0 with infeasible runs shown as such.

Exit codes: 0 an allocation (proven optimal, or a warning on stderr that it is not), 1 the
scenario is infeasible (the diagnosis is printed), 2 bad input or options (one ``error:``
line per problem on stderr, nothing on stdout), 3 the solver stopped without an allocation
and without proving infeasibility (time limit or solver error).

Every :class:`~optimizer.errors.AllotError` is turned into ``error:`` lines and exit 2 in
one place, :func:`_errors_as_exit`; stdout carries only the report, so ``--format json``
output can be piped straight into another program.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import functools
import io
import json
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TextIO, get_args

import numpy as np
import typer

import optimizer
from optimizer import solvers
from optimizer.compile import build_program
from optimizer.errors import AllotError, InputError, Problem
from optimizer.loading import MAX_FILE_BYTES, load_data, load_scenario, validate_data
from optimizer.result import ALLOCATION_COLUMNS, Result, Status, Tie
from optimizer.scenario import Backend, Scenario
from optimizer.solve import choose_backend, solve

if TYPE_CHECKING:  # the what-if modules and Rich load where used: `solve` starts faster
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from optimizer.parallel import Progress
    from optimizer.result import Allocations
    from optimizer.robust import RobustReport
    from optimizer.sensitivity import Change, SensitivityReport
    from optimizer.sweep import SweepReport

EXIT_OK = 0
EXIT_INFEASIBLE = 1
EXIT_TIE = 1  # tie_break refuse met a tie: like infeasible, the scenario needs a decision
EXIT_INPUT = 2
EXIT_NO_ALLOCATION = 3

BACKENDS: tuple[str, ...] = get_args(Backend)
MAX_TIME_LIMIT_S = 86_400.0
CSV_COLUMNS = ALLOCATION_COLUMNS
"""The allocation table of ``--format csv`` and ``--format parquet``."""
PLAIN_WIDTH = 200
"""Line width for tables written to a file or pipe (a terminal uses its own width)."""


class OutputFormat(StrEnum):
    """How ``allot solve`` prints the result."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


class SolveFormat(StrEnum):
    """What ``allot solve`` writes: an :class:`OutputFormat`, or the allocation table as a
    Parquet file (``--out`` only)."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    PARQUET = "parquet"


app = typer.Typer(
    name="allot",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def main() -> None:
    """The command line, as the ``allot`` entry point (:func:`optimizer.start.main`) runs it."""
    for stream in (sys.stdout, sys.stderr):
        # Never crash on a name the terminal cannot encode; UTF-8 streams are left alone.
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if encoding != "utf8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    _for_command(sys.argv[1:2])()


def _for_command(first: Sequence[str]) -> typer.Typer:
    """The app with only the command that ``first`` names: Typer builds every command's
    options from its signature when it starts (15 ms for all of them, a twentieth of the
    14-region run) and a run needs one. ``--help``, a group or a typo get the whole app."""
    named = [
        info
        for info in app.registered_commands
        if first
        and info.callback is not None
        and (info.name or typer.main.get_command_name(info.callback.__name__)) == first[0]
    ]
    if len(named) != 1:
        return app
    one = copy.copy(app)
    one.registered_commands, one.registered_groups = named, []
    return one


def _version(value: bool) -> None:
    if value:
        typer.echo(f"allot {optimizer.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Allot: exact integer allocation of incentive budgets from evaluation scores.

    Exit codes: 0 allocated, 1 infeasible (diagnosis printed), 2 bad input,
    3 no allocation found (time limit or solver error).
    """


FileArg = Annotated[
    Path,
    typer.Argument(
        help="Scenario file (.yaml, .yml or .json).",
        show_default=False,
    ),
]


# --------------------------------------------------------------------------- commands


@app.command()
def validate(file: FileArg) -> None:
    """Load and validate a scenario; print its name, size, budget and content hash."""
    with _errors_as_exit():
        scenario = load_scenario(file)
        _check_solver_block(scenario)
    typer.echo(
        f"ok: {scenario.name} ({len(scenario.recipients)} recipients, "
        f"budget {scenario.budget}, hash {scenario.content_hash})"
    )


@app.command("verify")
def verify_command(
    result_file: Annotated[
        Path, typer.Argument(help="A result as `allot solve --format json` writes it.")
    ],
    scenario_file: Annotated[
        Path | None, typer.Argument(help="The scenario it claims to be of (checks more).")
    ] = None,
) -> None:
    """Re-check a result without solving: hash, budget, bounds, every rule, the certificate
    and the optimality claim. Exit 0 "verified", 1 with the first failure, 2 bad input."""
    from optimizer.verify import verify

    with _errors_as_exit():
        scenario = load_scenario(scenario_file) if scenario_file is not None else None
        data = _read_result(result_file)
        if scenario is None and _is_report(result_file):
            scenario = _embedded_scenario(result_file)
            if scenario is not None:
                typer.echo(f"--   scenario: the one embedded in {result_file}")
    checks = verify(data, scenario)
    for check in checks:
        mark = {True: "ok", False: "FAIL", None: "--"}[check.ok]
        typer.echo(f"{mark:4} {check.name}: {check.detail}")
    failed = next((c for c in checks if c.ok is False), None)
    if failed is not None:
        _note(f"not verified: {failed.name}: {failed.detail}")
        raise typer.Exit(EXIT_INFEASIBLE)
    typer.echo(f"verified: {result_file} ({sum(c.ok is True for c in checks)} checks hold)")


class ReportLanguage(StrEnum):
    """The language of ``allot report``."""

    KO = "ko"
    EN = "en"


@app.command("report")
def report_command(
    result_file: Annotated[
        Path, typer.Argument(help="A result as `allot solve --format json` writes it.")
    ],
    scenario_file: Annotated[
        Path | None,
        typer.Argument(help="The scenario it ran: embedded, so `allot verify` checks it all."),
    ] = None,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="PATH", help="The HTML file to write."),
    ] = Path("report.html"),
    lang: Annotated[
        ReportLanguage, typer.Option("--lang", help="Language of the report.")
    ] = ReportLanguage.KO,
) -> None:
    """Write a result (and the scenario it ran) as one self-contained HTML file for
    publication: readable tables, an inline chart, the certificate and paradox checks, and
    the raw JSON with the instructions to check it with `allot verify`."""
    with _errors_as_exit():
        scenario = load_scenario(scenario_file) if scenario_file is not None else None
        data = _read_result(result_file)
        given = (data.get("scenario") or {}).get("hash")
        if scenario is not None and given != scenario.content_hash:
            raise InputError(
                [
                    Problem(
                        "scenario",
                        f"the result is of {given}, not of this scenario ({scenario.content_hash})",
                    )
                ]
            )
        from api.web.publication import publication_html  # the web view's templates

        body = scenario.model_dump(mode="json") if scenario is not None else None
        _write_file(out, publication_html(data, body, lang=lang.value))
    _note(f"wrote the report to {out}")


def _is_report(path: Path) -> bool:
    """A publication report (``allot report``) rather than a result JSON file?"""
    return path.suffix.lower() in (".html", ".htm")


def _report_block(path: Path, block: str) -> str | None:
    """The text of a report's JSON element ``block`` (None when the report has none)."""
    from optimizer.report_blocks import json_blocks

    try:
        return json_blocks(path.read_bytes().decode("utf-8")).get(block)
    except UnicodeDecodeError:
        raise InputError([Problem("result", f"{path} is not UTF-8 text")]) from None


def _embedded_scenario(path: Path) -> Scenario | None:
    """The scenario a publication report embeds, validated (None if it has none)."""
    from optimizer.report_blocks import SCENARIO_ID

    text = _report_block(path, SCENARIO_ID)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError([Problem(SCENARIO_ID, f"{path}: not JSON: {exc}")]) from None
    return validate_data(data)


def _read_result(path: Path) -> Any:
    """A result JSON file (or the result a publication report embeds), or InputError naming
    the file and the problem."""
    from optimizer.report_blocks import RESULT_ID
    from optimizer.verify import result_problems

    shown = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            too_big = f"{shown} is larger than {MAX_FILE_BYTES:,} bytes"
            raise InputError([Problem("result", too_big)])
        if _is_report(path):
            text = _report_block(path, RESULT_ID)
            if text is None:
                missing = f"{shown} is not an Allot report (no {RESULT_ID} element)"
                raise InputError([Problem("result", missing)])
            data = json.loads(text)
        else:
            data = json.loads(path.read_bytes())
    except OSError as exc:
        raise InputError([Problem("result", f"cannot read {shown}: {exc.strerror}")]) from None
    except ValueError as exc:
        raise InputError([Problem("result", f"{shown} is not JSON: {exc}")]) from None
    problems = result_problems(data)
    if problems:
        raise InputError([Problem(field, reason) for field, reason in problems])
    return data


@app.command("solve")
def solve_command(
    file: FileArg,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            "-b",
            metavar="|".join(BACKENDS),
            help="Solver backend; default: the scenario's solver.backend (auto).",
            show_default=False,
        ),
    ] = None,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit",
            "-t",
            metavar="SECONDS",
            help="Solver time limit in seconds; default: the scenario's solver.time_limit_s.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        SolveFormat,
        typer.Option(
            "--format", "-f", help="Output format (parquet: with --out).", case_sensitive=False
        ),
    ] = SolveFormat.TABLE,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="PATH",
            help="Write the output to this file instead of stdout (tables as plain text).",
            show_default=False,
        ),
    ] = None,
    max_memory_mb: Annotated[
        float | None,
        typer.Option(
            "--max-memory-mb",
            metavar="MB",
            help="Memory the run may use (default: ALLOT_RUN_MEMORY_MB, else 1024); a run "
            "that would need more ends 'too large' before building.",
            show_default=False,
        ),
    ] = None,
    checks: Annotated[
        bool,
        typer.Option(
            "--checks/--no-checks",
            help="Paradox checks with verdicts (quota, budget and score monotonicity): a few "
            "more solves.",
        ),
    ] = True,
) -> None:
    """Allocate a scenario and print the allocation, metrics and solver report."""
    with _errors_as_exit():
        option_problems = _option_problems(backend, time_limit, out)
        if fmt is SolveFormat.PARQUET and out is None:
            option_problems.append(
                Problem("--out", "--format parquet writes a file: give --out FILE.parquet")
            )
        if max_memory_mb is not None and not max_memory_mb > 0:
            option_problems.append(
                Problem("--max-memory-mb", f"must be a positive number of MB (got {max_memory_mb})")
            )
        try:
            scenario = load_scenario(file)
        except InputError as exc:
            raise InputError([*option_problems, *exc.problems]) from None
        if option_problems:
            raise InputError(option_problems)
        with _stdout_reserved():
            result = solve(
                scenario, backend=backend, time_limit_s=time_limit, memory_mb=max_memory_mb
            )
            if checks:
                from optimizer.paradox import paradox_checks  # (only with the checks)

                again = functools.partial(
                    solve,
                    backend=backend,
                    time_limit_s=time_limit,
                    memory_mb=max_memory_mb,
                    ties=False,
                )
                result = replace(result, checks=paradox_checks(scenario, result, again))
        text_fmt = OutputFormat(fmt.value) if fmt is not SolveFormat.PARQUET else None
        if out is not None and text_fmt is None:
            from optimizer.columnar import allocations_parquet  # pyarrow: only for Parquet

            _write_bytes(out, allocations_parquet(result, CSV_COLUMNS))
        elif out is not None and text_fmt is not None:
            _write_file(out, _render(result, scenario, text_fmt))
    if out is not None or text_fmt is None:
        _note(f"wrote {fmt.value} output to {out}")
    elif text_fmt is OutputFormat.TABLE and (console := _console(sys.stdout)).is_terminal:
        _print_report(console, result, scenario)
    else:
        sys.stdout.write(_render(result, scenario, text_fmt))
        sys.stdout.flush()
    status_fmt = text_fmt or OutputFormat.CSV  # Parquet goes to a file: notes on stderr
    raise typer.Exit(_report_status(result, status_fmt, to_file=out is not None))


# --------------------------------------------------------------------------- errors


@contextlib.contextmanager
def _errors_as_exit() -> Iterator[None]:
    """The one place where expected errors become ``error:`` lines on stderr and exit 2."""
    try:
        yield
    except InputError as exc:
        lines = [f"error: {problem}" for problem in exc.problems] or ["error: invalid input"]
        _fail(lines)
    except AllotError as exc:
        _fail([f"error: {exc}"])


def _fail(lines: Sequence[str]) -> NoReturn:
    for line in lines:
        _note(line)
    raise typer.Exit(EXIT_INPUT)


def _note(line: str) -> None:
    """One plain line on stderr (never Rich markup: field paths contain brackets)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _option_problems(
    backend: str | None, time_limit: float | None, out: Path | None
) -> list[Problem]:
    problems = []
    if backend is not None and backend not in BACKENDS:
        problems.append(
            Problem("--backend", f"unknown backend {backend!r} (one of: {', '.join(BACKENDS)})")
        )
    if time_limit is not None and not (
        math.isfinite(time_limit) and 0 < time_limit <= MAX_TIME_LIMIT_S
    ):
        problems.append(
            Problem(
                "--time-limit",
                f"must be a number of seconds > 0 and <= {MAX_TIME_LIMIT_S:g} (got {time_limit:g})",
            )
        )
    if out is not None:
        if out.is_dir():
            problems.append(Problem("--out", f"{out} is a directory"))
        elif not out.parent.is_dir():
            problems.append(Problem("--out", f"directory {out.parent} does not exist"))
    return problems


def _check_solver_block(scenario: Scenario) -> None:
    """Raise what ``solve`` would raise for the scenario's own backend choice."""
    _, _, program = build_program(scenario)
    name = choose_backend(program, scenario.solver.backend)
    if name != "greedy":
        solvers.backend(name)


def _write_file(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(
            [Problem("--out", f"cannot write {path}: {exc.strerror or exc}")]
        ) from None


@contextlib.contextmanager
def _stdout_reserved() -> Iterator[None]:
    """While solving, Python-level prints go to stderr and C-level output on file descriptor 1
    (solver banners) is dropped, so that stdout carries only the report (``--format json``
    must stay parseable)."""
    sys.stdout.flush()
    with contextlib.redirect_stdout(sys.stderr), contextlib.ExitStack() as stack:
        try:
            out_fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else -1
        except (AttributeError, OSError, ValueError):
            out_fd = -1
        if out_fd >= 0:
            null = stack.enter_context(open(os.devnull, "w"))
            saved = os.dup(out_fd)
            stack.callback(os.close, saved)
            stack.callback(os.dup2, saved, out_fd)
            os.dup2(null.fileno(), out_fd)
        yield


def _report_status(result: Result, fmt: OutputFormat, *, to_file: bool) -> int:
    """Warnings and diagnosis lines on stderr; the exit code of ``result``."""
    if result.status == Status.INFEASIBLE:
        if fmt is not OutputFormat.TABLE or to_file:
            for line in _diagnosis_lines(result):
                _note(line)
        return EXIT_INFEASIBLE
    if result.status == Status.TIE:  # tie_break refuse: a decision for the committee
        if fmt is not OutputFormat.TABLE or to_file:
            _note(result.message)
        return EXIT_TIE
    if result.status.has_allocation and result.allocations:
        if result.status != Status.OPTIMAL:
            _note(
                f"warning: the allocation is not proven optimal (status {result.status}, "
                f"gap {_gap_text(result.solver.gap)})"
            )
        return EXIT_OK
    reason = result.message or "no allocation was found"
    path = result.solver.path  # the search, the crossing flow: not a backend named greedy
    named = path not in ("", "greedy", "milp")
    who = f"the {path} path" if named else f"solver {result.solver.backend}"
    _note(f"error: {who} stopped with status {result.status}: {reason}")
    return EXIT_NO_ALLOCATION


# --------------------------------------------------------------------------- rendering


def _render(result: Result, scenario: Scenario, fmt: OutputFormat) -> str:
    """The report as text; tables as plain text without colour."""
    if fmt is OutputFormat.JSON:  # the allocations written from their columns
        from optimizer.result import Allocations

        columns = Allocations.of(result.allocations)
        return result_json(replace(result, allocations=()).to_dict(), columns)
    if fmt is OutputFormat.CSV:
        return _csv_text(result)
    return _plain_text(lambda console: _print_report(console, result, scenario))


def _plain_text(draw: Callable[[Console], None]) -> str:
    """What ``draw`` prints on a plain console (no colour, fixed width), lines right-trimmed."""
    buffer = io.StringIO()
    draw(_console(buffer, plain=True))
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def _console(file: TextIO, *, plain: bool = False) -> Console:
    """A Rich console on ``file``; ``plain``: no colour and a wide fixed width (files, pipes).
    Markup is off: names and field paths may contain brackets."""
    from rich.console import Console

    options: dict[str, Any] = {"color_system": None, "width": PLAIN_WIDTH} if plain else {}
    return Console(file=file, highlight=False, markup=False, emoji=False, **options)


def _csv_text(result: Result) -> str:
    """The allocation table, then a column per budget component (``component.<name>``):
    each column's cells made at once (:func:`_csv_column`), the rows written by the csv
    module's C loop."""
    from optimizer.components import part_columns
    from optimizer.result import Allocations

    parts = part_columns(result.certificate)
    allocations = Allocations.of(result.allocations)
    columns = [_csv_column(allocations, name) for name in CSV_COLUMNS]
    ids = allocations.column("id")
    columns += [list(map(_csv_cell, map(split.get, ids))) for _, split in parts]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *(name for name, _ in parts)])
    writer.writerows(zip(*columns, strict=True))
    return buffer.getvalue()


def _csv_column(allocations: Allocations, name: str) -> list[Any]:
    """One column's cells as :func:`_csv_cell` makes them: a column of floats in an array
    by numpy (whole numbers without ``.0``), integers and texts as they are, grades and
    binding rules once per distinct value, anything else cell by cell."""
    values = allocations.raw(name)
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        texts = np.array(list(map(repr, values.tolist())), dtype=object)
        whole = np.flatnonzero((values == np.floor(values)) & (np.abs(values) < 2**53))
        texts[whole] = list(map(str, values[whole].astype(np.int64).tolist()))
        cells: list[Any] = texts.tolist()
        return cells
    if isinstance(values, np.ndarray) and values.dtype == np.int64:
        units: list[Any] = values.tolist()
        return units
    if name in ("grade", "binding"):
        written = {value: _csv_cell(value) for value in set(values)}
        return list(map(written.__getitem__, values))
    cells = allocations.column(name)
    if set(map(type, cells)) <= {str}:  # (ids and names: as they are)
        return cells
    return list(map(_csv_cell, cells))


def _csv_cell(value: Any) -> Any:
    """A CSV cell: numbers at full precision, no grade empty, binding rules joined by ``;``."""
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, tuple):
        return ";".join(value)
    return "" if value is None else value


def _number(value: float) -> str:
    """Full precision, without a trailing ``.0`` on whole numbers."""
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _print_report(console: Console, result: Result, scenario: Scenario) -> None:
    from rich.measure import Measurement
    from rich.text import Text

    from optimizer.matrix_view import matrix_note, matrix_table

    unit = scenario.unit
    objective = result.objective["kind"]
    if result.objective.get("method"):
        objective += f" / {result.objective['method']}"
    title = Text(f"{result.scenario}", style="bold")
    title.append(f"  budget {result.budget:,} × {unit.label}, {objective}", style="")
    if result.allocations:
        table = _allocation_table(result, title, unit.label, with_amount=True)
        hidden = ""
        if Measurement.get(console, console.options.update_width(10_000), table).maximum > (
            console.width
        ):
            # A narrow terminal: amount is units x unit value, the first column to give up.
            table = _allocation_table(result, title, unit.label, with_amount=False)
            hidden = " (amount column hidden: the terminal is too narrow)"
        console.print(table)
        console.print(
            Text(f"1 unit = {unit.label} = {_amount_text(unit.value)}{hidden}", style="dim")
        )
        if scenario.criteria:
            weights = ", ".join(f"{k} {w:g}" for k, w in scenario.criteria.items())
            console.print(Text(f"score = weighted average of the criteria ({weights})"))
        for part in (matrix_table(result, scenario), matrix_note(result)):
            if part is not None:
                console.print(part)
    else:
        console.print(title)
        console.print(Text(f"status {result.status}: no allocation", style="bold red"))
    if result.diagnosis is not None:
        for line in _diagnosis_lines(result):
            console.print(Text(line))
    elif result.message:
        console.print(Text(result.message))
    if result.status != Status.TIE:
        for tie in result.ties:
            console.print(Text(_tie_line(tie)))
    for note in result.overrides:
        alone = "no allocation" if note.method_units is None else f"{note.method_units:,}"
        console.print(
            Text(
                f"override: {note.id} {note.units:,} units (the method alone: {alone}): "
                f"{note.reason} ({note.author})"
            )
        )
    certificate = certificate_line(result.certificate)
    if certificate is not None:
        console.print(Text(certificate))
    for verdict in result.checks:
        style = {"holds": "green", "fails": "bold yellow"}.get(verdict.verdict, "dim")
        check_line = Text(f"check {verdict.check.replace('_', ' ')}: ")
        check_line.append(verdict.verdict, style=style)
        check_line.append(f" ({verdict.detail})")
        console.print(check_line)
    if result.metrics is not None:
        m = result.metrics
        ratio = "n/a" if m.max_min_ratio is None else f"{m.max_min_ratio:.3f}"
        console.print(
            Text(
                f"metrics: total {m.total:,} units · Gini {m.gini:.4f} · max/min units per "
                f"entitlement {ratio} · objective {m.objective:.6g}"
            )
        )
        console.print(
            Text(
                f"vs. quotas: Loosemore-Hanby {m.loosemore_hanby:.3f} · Gallagher "
                f"{m.gallagher:.3f} · units/quota {m.min_units_per_quota:.3f} to "
                f"{m.max_units_per_quota:.3f}"
            )
        )
    s = result.solver
    status_style = "green" if result.status == Status.OPTIMAL else "bold red"
    solver_line = Text(
        f"solver: {s.backend} {s.version} ({s.path} path), {s.seconds:.3f} s, status "
    )
    solver_line.append(str(result.status), style=status_style)
    if result.status != Status.OPTIMAL and result.allocations:
        solver_line.append(f", gap {_gap_text(s.gap)}")
    console.print(solver_line)
    console.print(Text(f"scenario hash {scenario.content_hash}", style="dim"))


def certificate_line(certificate: dict[str, Any] | None) -> str | None:
    """The certificate in one line: its kind and rule, and the interval or the solver's
    proof (the quotas, remainders and divisors per recipient are in ``--format json``).

    >>> print(certificate_line({"kind": "divisor", "rule": "units = round(e / D)",
    ...                         "divisor": {"low": "1.2", "high": "1.25"}}))
    certificate (divisor): units = round(e / D); divisor: low 1.2, high 1.25
    >>> print(certificate_line({"kind": "milp", "rule": "objective = bound",
    ...     "stages": [{"objective": 3.0, "bound": 3.0}, {"objective": 1.0, "bound": 1.0}]}))
    certificate (milp): objective = bound; 2 stages, objective = bound in 2
    >>> print(certificate_line({"kind": "threshold_search", "rule": "leaves cover",
    ...     "nodes": [{"node": 1, "split": {}}, {"node": 2, "leaf": "bound"},
    ...               {"node": 3, "leaf": "accepted"}]}))
    certificate (threshold_search): leaves cover; 3 nodes: 1 split, 1 bound, 1 accepted
    """
    if not certificate:
        return None
    line = f"certificate ({certificate.get('kind')}): {certificate.get('rule') or ''}".rstrip()
    for key in ("divisor", "threshold"):
        found = certificate.get(key)
        if isinstance(found, dict) and "low" in found and "high" in found:
            line += f"; {key}: low {found['low']}, high {found['high']}"
    stages = certificate.get("stages")
    if isinstance(stages, list) and stages:
        proven = sum(
            isinstance(s, dict)
            and s.get("bound") is not None
            and s.get("bound") == s.get("objective")
            for s in stages
        )
        line += f"; {len(stages)} stages, objective = bound in {proven}"
    nodes = certificate.get("nodes")
    if isinstance(nodes, list) and nodes:
        kinds = [n.get("leaf") or "split" for n in nodes if isinstance(n, dict)]
        counts = ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds))
        line += f"; {len(nodes)} nodes: {counts}"
    return line


def _tie_line(tie: Tie) -> str:
    """One tie the tie-break order decided, in words."""
    given, passed = ", ".join(tie.given), ", ".join(tie.passed)
    return (
        f"tie: {given} got {tie.units} tied unit(s) before {passed} "
        f"({tie.reason}; {tie.decided_by})"
    )


def _allocation_table(result: Result, title: Text, label: str, *, with_amount: bool) -> Table:
    """One row per recipient. Numbers never wrap or get cut; on a narrow terminal the name
    and binding columns fold instead."""
    from rich import box
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    allocations = result.allocations
    table = Table(
        title=title,
        box=box.SIMPLE_HEAVY,
        show_footer=True,
        title_justify="left",
        pad_edge=False,
        collapse_padding=True,
    )
    longest = max(cell_len(a.name) for a in allocations)
    table.add_column("recipient", footer="total", overflow="fold", min_width=min(longest, 16))
    table.add_column("grade", justify="center", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column(
        "quota",
        justify="right",
        no_wrap=True,
        footer=f"{math.fsum(a.quota for a in allocations):,.2f}",
    )
    table.add_column(
        f"units\n{label}",
        justify="right",
        no_wrap=True,
        footer=f"{sum(a.units for a in allocations):,}",
    )
    if with_amount:
        table.add_column(
            "amount",
            justify="right",
            no_wrap=True,
            footer=_amount_text(math.fsum(a.amount for a in allocations)),
        )
    table.add_column(
        "share",
        justify="right",
        no_wrap=True,
        footer=f"{math.fsum(a.share for a in allocations):.2%}",
    )
    table.add_column("binding", overflow="fold")
    for a in allocations:
        cells: list[str | Text] = [
            Text(a.name),
            Text(a.grade or "-"),
            f"{a.score:g}",
            f"{a.quota:,.2f}",
            Text(f"{a.units:,}", style="bold"),
        ]
        if with_amount:
            cells.append(_amount_text(a.amount))
        cells += [f"{a.share:.2%}", Text(", ".join(a.binding), style="yellow")]
        table.add_row(*cells)
    return table


def _amount_text(amount: float) -> str:
    return f"{amount:,.0f}" if float(amount).is_integer() else f"{amount:,.2f}"


def _gap_text(gap: float | None) -> str:
    """The relative gap as a percentage, a small nonzero one with its first digits (a
    gap of 2e-6 is not "0.00%")."""
    if gap is None:
        return "unknown"
    return f"{gap:.2%}" if gap == 0 or gap >= 0.0001 else f"{gap * 100:.2g}%"


def _diagnosis_lines(result: Result) -> list[str]:
    diagnosis = result.diagnosis
    if diagnosis is None:
        return [result.message or f"status {result.status}"]
    lines = [diagnosis.summary]
    for r in diagnosis.relax:
        what = r.constraint if r.constraint == r.kind else f"{r.constraint} ({r.kind})"
        if r.kind == "grade_order":
            line = f"  relax {what}: drop it or widen the bounds it ties"
        else:
            line = f"  relax {what} by {r.amount:,} units"
        if r.recipients:
            line += ": " + ", ".join(r.recipients)
        lines.append(line)
    return lines


# --------------------------------------------------------------------------- what-if analysis
#
# compare, sweep, robust and sensitivity: the work is in optimizer.compare / sweep / robust /
# sensitivity / export; these commands parse options, run them and print.


class CompareFormat(StrEnum):
    """How ``allot compare`` prints the comparison."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    HTML = "html"


PROGRESS_MIN_TASKS = 8
"""A progress bar is shown on a terminal's stderr for runs of at least this many tasks."""

FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="Output format.", case_sensitive=False),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        metavar="PATH",
        help="Write the output to this file instead of stdout (tables as plain text).",
        show_default=False,
    ),
]
JobsOption = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        metavar="N",
        help="Solve on N local processes (default: one per core; 1: in this process).",
        show_default=False,
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        metavar="ADDRESS",
        help="Run the solves on a Dask cluster instead, e.g. tcp://host:8786 (its workers "
        "need allot installed).",
        show_default=False,
    ),
]


@app.command("compare")
def compare_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Two or more scenario files (solved here) or saved results "
            "(allot solve --format json); the first is the baseline.",
            show_default=False,
        ),
    ],
    fmt: Annotated[
        CompareFormat,
        typer.Option("--format", "-f", help="Output format.", case_sensitive=False),
    ] = CompareFormat.TABLE,
    out: OutOption = None,
    checks: Annotated[
        bool,
        typer.Option(
            "--checks/--no-checks",
            help="Paradox checks for the scenario files solved here (saved results keep "
            "theirs): a few more solves per file.",
        ),
    ] = True,
) -> None:
    """Compare runs side by side: units, differences, grades, metrics, rules, verdicts.

    Per recipient the units in each run, the difference from the first run (units and %) and
    the grades; then each run's metrics, which rules bound in which run and each run's
    paradox verdicts (quota, budget and score monotonicity).
    """
    from optimizer.compare import compare, load_result, run_labels
    from optimizer.export import comparison_xlsx

    with _errors_as_exit():
        problems = _option_problems(None, None, out)
        if len(files) < 2:
            problems.append(Problem("FILES", f"give two or more files (got {len(files)})"))
        if fmt is CompareFormat.XLSX and out is None:
            problems.append(Problem("--out", "--format xlsx writes a workbook: give --out FILE"))
        if problems:
            raise InputError(problems)
        results: list[dict[str, Any]] = []
        load_problems: list[Problem] = []
        with _stdout_reserved():
            for file in files:
                try:
                    results.append(load_result(file, checks=checks))
                except InputError as exc:
                    load_problems.extend(exc.problems)
        if load_problems:
            raise InputError(load_problems)
        labels = run_labels(files)
        comparison = compare(results, labels=labels)
        if fmt is CompareFormat.XLSX:
            assert out is not None
            _write_bytes(out, comparison_xlsx(comparison, results))
        elif out is not None:
            _write_file(out, _compare_text(comparison, fmt))
    if out is not None:
        _note(f"wrote {fmt.value} output to {out}")
    elif fmt is CompareFormat.TABLE and (console := _console(sys.stdout)).is_terminal:
        _print_comparison(console, comparison)
    else:
        sys.stdout.write(_compare_text(comparison, fmt))
        sys.stdout.flush()


@app.command("sweep")
def sweep_command(
    file: FileArg,
    sets: Annotated[
        list[str],
        typer.Option(
            "--set",
            "-s",
            metavar="PATH=VALUES",
            help="A parameter and its values: path=start:stop:step (stop included) or "
            "path=v1,v2,... (e.g. budget=1000:2000:100, rules[0].min_share=0.2,0.25). "
            "Several --set make a grid.",
            show_default=False,
        ),
    ],
    fmt: FormatOption = OutputFormat.TABLE,
    out: OutOption = None,
    jobs: JobsOption = None,
    scheduler: SchedulerOption = None,
) -> None:
    """Solve once per value of a parameter (or grid point): units per recipient.

    Each variant is solved exactly as `allot solve` would solve it alone.
    """
    from optimizer.sweep import parse_axis, run_sweep, variants

    with _errors_as_exit():
        problems = _option_problems(None, None, out) + _parallel_problems(jobs)
        axes = []
        for index, spec in enumerate(sets):
            try:
                axes.append(parse_axis(spec, where=f"--set[{index}]"))
            except InputError as exc:
                problems.extend(exc.problems)
        if problems:
            raise InputError(problems)
        data = load_data(file)
        chosen = variants(data, axes, where="--set")
        _check_solver_block(chosen[0].scenario)
        with _stdout_reserved(), _progress(len(chosen), "solving variants") as tick:
            report = run_sweep(chosen, axes, jobs=jobs, scheduler=scheduler, progress=tick)
        text = None if fmt is OutputFormat.TABLE and out is None else _sweep_text(report, fmt)
        if out is not None and text is not None:
            _write_file(out, text)
    _emit(out, fmt, text, lambda console: _print_sweep(console, report))


@app.command("robust")
def robust_command(
    file: FileArg,
    noise: Annotated[
        float,
        typer.Option(
            metavar="POINTS",
            help="Standard deviation of the normal noise added to each score, in score points.",
        ),
    ] = 2.0,
    samples: Annotated[int, typer.Option(metavar="N", help="Number of noisy samples.")] = 1000,
    seed: Annotated[
        int, typer.Option(metavar="N", help="Seed of the noise: same seed, same report.")
    ] = 0,
    fmt: FormatOption = OutputFormat.TABLE,
    out: OutOption = None,
    jobs: JobsOption = None,
    scheduler: SchedulerOption = None,
) -> None:
    """Spread of the units when the scores carry noise (seeded, reproducible).

    Adds normal noise to the evaluation scores, solves each sample and reports per recipient
    min, p5, median, p95 and max of its units and how often its grade changes.
    """
    from optimizer.robust import robustness

    with _errors_as_exit():
        problems = _option_problems(None, None, out) + _parallel_problems(jobs)
        try:
            scenario = load_scenario(file)
        except InputError as exc:
            raise InputError([*problems, *exc.problems]) from None
        if problems:
            raise InputError(problems)
        _check_solver_block(scenario)
        with _stdout_reserved(), _progress(samples, "solving samples") as tick:
            report = robustness(
                scenario,
                noise=noise,
                samples=samples,
                seed=seed,
                jobs=jobs,
                scheduler=scheduler,
                progress=tick,
            )
        if isinstance(report, Result):
            raise typer.Exit(_baseline_failed(report))
        text = None if fmt is OutputFormat.TABLE and out is None else _robust_text(report, fmt)
        if out is not None and text is not None:
            _write_file(out, text)
    _emit(out, fmt, text, lambda console: _print_robust(console, report))


@app.command("sensitivity")
def sensitivity_command(
    file: FileArg,
    precision: Annotated[
        float | None,
        typer.Option(
            metavar="POINTS",
            help="Score points the change is searched to (a multiple of this is reported); "
            "default: 0.01.",
            show_default=False,
        ),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="ID",
            help="Only these recipients (repeat, or separate ids with commas).",
            show_default=False,
        ),
    ] = None,
    fmt: FormatOption = OutputFormat.TABLE,
    out: OutOption = None,
    jobs: JobsOption = None,
    scheduler: SchedulerOption = None,
) -> None:
    """What would it take: the smallest score change that moves each recipient's units.

    Up and down, everything else fixed, found by bisection with the real solver to --precision
    score points.
    """
    from optimizer.sensitivity import DEFAULT_PRECISION, sensitivity

    with _errors_as_exit():
        problems = _option_problems(None, None, out) + _parallel_problems(jobs)
        try:
            scenario = load_scenario(file)
        except InputError as exc:
            raise InputError([*problems, *exc.problems]) from None
        if problems:
            raise InputError(problems)
        _check_solver_block(scenario)
        ids = None if only is None else [i.strip() for o in only for i in o.split(",") if i]
        count = len(ids) if ids is not None else len(scenario.recipients)
        with _stdout_reserved(), _progress(2 * count, "searching") as tick:
            report = sensitivity(
                scenario,
                precision=DEFAULT_PRECISION if precision is None else precision,
                only=ids,
                jobs=jobs,
                scheduler=scheduler,
                progress=tick,
            )
        if isinstance(report, Result):
            raise typer.Exit(_baseline_failed(report))
        text = None if fmt is OutputFormat.TABLE and out is None else _sensitivity_text(report, fmt)
        if out is not None and text is not None:
            _write_file(out, text)
    _emit(out, fmt, text, lambda console: _print_sensitivity(console, report))


def _parallel_problems(jobs: int | None) -> list[Problem]:
    if jobs is not None and jobs < 1:
        return [Problem("--jobs", f"must be at least 1 (got {jobs})")]
    return []


def _baseline_failed(result: Result) -> int:
    """The scenario itself has no allocation: say why; the exit code of ``solve``."""
    _note(f"error: {result.scenario} has no allocation to analyse (status {result.status})")
    for line in _diagnosis_lines(result):
        _note(line)
    return EXIT_INFEASIBLE if result.status == Status.INFEASIBLE else EXIT_NO_ALLOCATION


def _write_bytes(path: Path, payload: bytes) -> None:
    try:
        path.write_bytes(payload)
    except OSError as exc:
        raise InputError(
            [Problem("--out", f"cannot write {path}: {exc.strerror or exc}")]
        ) from None


def _emit(
    out: Path | None, fmt: OutputFormat, text: str | None, table: Callable[[Console], None]
) -> None:
    """Print what a what-if command made: a note when it went to a file, a Rich table on a
    terminal, else the text."""
    if out is not None:
        _note(f"wrote {fmt.value} output to {out}")
        return
    if text is None:
        console = _console(sys.stdout)
        if console.is_terminal:
            table(console)
            return
        text = _plain_text(table)
    sys.stdout.write(text)
    sys.stdout.flush()


@contextlib.contextmanager
def _progress(total: int, what: str) -> Iterator[Progress | None]:
    """A Rich progress bar on stderr for long runs on a terminal; nothing otherwise."""
    from rich.console import Console

    console = Console(file=sys.stderr, highlight=False, markup=False)
    if total < PROGRESS_MIN_TASKS or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    with Bar(
        TextColumn(what, markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(what, total=total)

        def tick(done: int, of: int) -> None:
            bar.update(task, completed=done, total=of)

        yield tick


def result_json(
    data: dict[str, Any], rows: Sequence[dict[str, Any]] | Allocations | None = None
) -> str:
    """The result as indented JSON with one allocation per line (:mod:`optimizer.result_json`);
    ``rows``: the allocations (objects or columns), when ``data`` has none."""
    from optimizer.result_json import result_json as text

    return text(data, rows)


def _text_or_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _compare_text(comparison: dict[str, Any], fmt: CompareFormat) -> str:
    from optimizer.export import comparison_csv, comparison_html

    if fmt is CompareFormat.JSON:
        return _text_or_json(comparison)
    if fmt is CompareFormat.CSV:
        return comparison_csv(comparison)
    if fmt is CompareFormat.HTML:
        return comparison_html(comparison)
    return _plain_text(lambda console: _print_comparison(console, comparison))


def _sweep_text(report: SweepReport, fmt: OutputFormat) -> str:
    from optimizer.export import sweep_csv

    if fmt is OutputFormat.JSON:
        return _text_or_json(report.to_dict())
    if fmt is OutputFormat.CSV:
        return sweep_csv(report.to_dict())
    return _plain_text(lambda console: _print_sweep(console, report))


def _robust_text(report: RobustReport, fmt: OutputFormat) -> str:
    from optimizer.export import robust_csv

    if fmt is OutputFormat.JSON:
        return _text_or_json(report.to_dict())
    if fmt is OutputFormat.CSV:
        return robust_csv(report.to_dict())
    return _plain_text(lambda console: _print_robust(console, report))


def _sensitivity_text(report: SensitivityReport, fmt: OutputFormat) -> str:
    from optimizer.export import sensitivity_csv

    if fmt is OutputFormat.JSON:
        return _text_or_json(report.to_dict())
    if fmt is OutputFormat.CSV:
        return sensitivity_csv(report.to_dict())
    return _plain_text(lambda console: _print_sensitivity(console, report))


def _plain_table() -> Table:
    from rich import box
    from rich.table import Table

    return Table(box=box.SIMPLE_HEAVY, pad_edge=False, collapse_padding=True)


def _print_titled(console: Console, title: str, table: Table) -> None:
    """A title on its own line (a table title would wrap at the table's width), then the
    table."""
    from rich.text import Text

    console.print(Text(title, style="bold"))
    console.print(table)


def _signed(value: int | None) -> str:
    return "" if value is None else f"{value:+,}" if value else "0"


def _print_comparison(console: Console, comparison: dict[str, Any]) -> None:
    from rich.text import Text

    from optimizer.export import metric_rows, rule_rows

    runs = comparison["runs"]
    labels = [run["label"] for run in runs]
    title = f"units per recipient (baseline: {labels[0]})"
    table = _plain_table()
    table.add_column("recipient", overflow="fold")
    for label in labels:
        table.add_column(label, justify="right", no_wrap=True)
    for label in labels[1:]:
        table.add_column(f"Δ {label}", justify="right", no_wrap=True)
    table.add_column("grade", justify="center", no_wrap=True)
    for rec in comparison["recipients"]:
        diffs = []
        for d, pct in zip(rec["diff_units"][1:], rec["diff_pct"][1:], strict=True):
            text = _signed(d)
            if d and pct is not None:
                text += f" ({pct:+.1f}%)"
            diffs.append(Text(text, style="green" if d and d > 0 else "red" if d else ""))
        grades = [g or "-" for g in rec["grade"]]
        grade = grades[0] if len(set(grades)) == 1 else "→".join(grades)
        table.add_row(
            Text(rec["name"]),
            *("-" if u is None else f"{u:,}" for u in rec["units"]),
            *diffs,
            Text(grade, style="" if len(set(grades)) == 1 else "yellow"),
        )
    _print_titled(console, title, table)

    metrics = _plain_table()
    metrics.add_column("")
    for label in labels:
        metrics.add_column(label, justify="right", overflow="fold")
    for row in metric_rows(comparison):
        metrics.add_row(row[0], *(_metric_text(v) for v in row[1:]))
    _print_titled(console, "metrics", metrics)

    if comparison["rules"]:
        rules = _plain_table()
        rules.add_column("rule", overflow="fold")
        for label in labels:
            rules.add_column(label, justify="center")
        for row in rule_rows(comparison):
            rules.add_row(Text(row[0]), *("bound" if b else "-" for b in row[1:]))
        _print_titled(console, "rules that bound", rules)
    else:
        console.print(Text("no rule bound in any run"))
    _print_run_checks(console, labels, [run.get("checks") or [] for run in runs])


def _print_run_checks(
    console: Console, labels: Sequence[str], checks: Sequence[Sequence[dict[str, Any]]]
) -> None:
    """Each run's paradox verdicts side by side, then the counterexamples of those that fail."""
    from rich.text import Text

    names = list(dict.fromkeys(c["check"] for run in checks for c in run))
    if not names:
        console.print(Text("paradox checks: not computed for these runs"))
        return
    table = _plain_table()
    table.add_column("check", overflow="fold")
    for label in labels:
        table.add_column(label, justify="center", no_wrap=True)
    for name in names:
        cells = []
        for run in checks:
            found = next((c for c in run if c["check"] == name), None)
            verdict = "not computed" if found is None else str(found["verdict"])
            cells.append(Text(verdict, style="red" if verdict == "fails" else ""))
        table.add_row(Text(name), *cells)
    _print_titled(console, "paradox checks", table)
    for label, run in zip(labels, checks, strict=True):
        for c in run:
            if c["verdict"] == "fails":
                console.print(Text(f"{label}: {c['check']} fails: {c['detail']}"))


def _metric_text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.0f}"


def _print_sweep(console: Console, report: SweepReport) -> None:
    from rich.text import Text

    results = report.results
    title = "sweep of " + " × ".join(report.parameters)
    if results:
        title = f"{results[0].result['scenario']['name']}: {title}"
    table = _plain_table()
    table.show_footer = True
    table.add_column("recipient", footer="total", overflow="fold")
    for item in results:
        header = " / ".join(text for _, text in item.point)
        if item.result["status"] != "optimal":
            header += f"\n{item.result['status']}"
        total = sum(a["units"] for a in item.result["allocations"])
        table.add_column(header, justify="right", no_wrap=True, footer=f"{total:,}")
    for rec in report.recipients():
        table.add_row(Text(rec["name"]), *("-" if u is None else f"{u:,}" for u in rec["units"]))
    _print_titled(console, title, table)
    for item in results:
        if item.result["status"] != "optimal":
            console.print(Text(f"{item.label}: {item.result['message'] or item.result['status']}"))
    _print_sweep_checks(console, report)


SHOWN_POINTS = 10
"""Sweep points whose failing quota verdict is printed in full (the JSON has every one)."""


def _print_sweep_checks(console: Console, report: SweepReport) -> None:
    """The verdicts across the sweep's points, and the quota verdict of each point."""
    from rich.text import Text

    table = _plain_table()
    table.add_column("check", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for verdict in report.checks():
        style = "red" if verdict.verdict == "fails" else ""
        table.add_row(verdict.check, Text(verdict.verdict, style=style), Text(verdict.detail))
    quota = list(zip(report.results, report.point_checks(), strict=True))
    failing = [(item, v) for item, v in quota if v.verdict == "fails"]
    if not failing:
        held = sum(v.verdict == "holds" for _, v in quota)
        table.add_row("quota", "holds", f"at every optimal point ({held:,} of {len(quota):,})")
    for item, v in failing[:SHOWN_POINTS]:
        table.add_row(f"quota at {item.label}", Text("fails", style="red"), Text(v.detail))
    if len(failing) > SHOWN_POINTS:
        more = f"at {len(failing) - SHOWN_POINTS:,} more points (see --format json)"
        table.add_row("quota", Text("fails", style="red"), more)
    _print_titled(console, "paradox checks across the sweep", table)


def _print_robust(console: Console, report: RobustReport) -> None:
    from rich.text import Text

    title = (
        f"{report.scenario}: {report.samples:,} samples, score noise N(0, {report.noise:g}²) "
        f"points, seed {report.seed}"
    )
    table = _plain_table()
    table.add_column("recipient", overflow="fold")
    for name in ("grade", "score", "units", "min", "p5", "median", "p95", "max"):
        table.add_column(name, justify="center" if name == "grade" else "right", no_wrap=True)
    table.add_column("P(units\nchange)", justify="right", no_wrap=True)
    table.add_column("P(grade\nchange)", justify="right", no_wrap=True)
    for r in report.recipients:
        table.add_row(
            Text(r.name),
            r.grade or "-",
            f"{r.score:g}",
            Text(f"{r.units:,}", style="bold"),
            *(f"{v:,}" for v in (r.min, r.p5, r.median, r.p95, r.max)),
            f"{r.p_units_change:.1%}",
            f"{r.p_grade_change:.1%}",
        )
    _print_titled(console, title, table)
    missing = report.samples - report.solved
    others = ", ".join(
        f"{status} {count:,}" for status, count in report.statuses.items() if status != "optimal"
    )
    console.print(
        Text(
            f"solved {report.solved:,} of {report.samples:,} samples"
            + (f" ({missing:,} without an allocation are left out)" if missing else "")
            + (f"; statuses: {others}" if others else "")
            + "; percentiles are sample quantiles (units some sample got)"
        )
    )


def _change_text(change: Change | None, units: int, down: bool) -> Text:
    from rich.text import Text

    if change is None:
        return Text("no change", style="dim")
    sign = "-" if down else "+"
    if change.units is None:
        return Text(f"{sign}{change.delta:g} → no allocation", style="red")
    text = f"{sign}{change.delta:g} → {change.units:,} ({change.units - units:+,})"
    return Text(text)


def _print_sensitivity(console: Console, report: SensitivityReport) -> None:
    from rich.text import Text

    title = (
        f"{report.scenario}: smallest score change that moves the units "
        f"(precision {report.precision:g} points)"
    )
    table = _plain_table()
    table.add_column("recipient", overflow="fold")
    table.add_column("grade", justify="center", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("units", justify="right", no_wrap=True)
    table.add_column("score up → units", justify="right", no_wrap=True)
    table.add_column("score down → units", justify="right", no_wrap=True)
    for t in report.recipients:
        up = _change_text(t.up, t.units, down=False)
        if t.up is not None and t.up.grade != t.grade:
            up.append(f" {t.grade}→{t.up.grade}", style="yellow")
        down = _change_text(t.down, t.units, down=True)
        if t.down is not None and t.down.grade != t.grade:
            down.append(f" {t.grade}→{t.down.grade}", style="yellow")
        table.add_row(Text(t.name), t.grade or "-", f"{t.score:g}", f"{t.units:,}", up, down)
    _print_titled(console, title, table)
    console.print(
        Text(
            "no change: not within the searched range (up to double the score, down to "
            f"{report.precision:g}): a floor, cap or rule holds the units there"
        )
    )


# --------------------------------------------------------------------------- the service
#
# These commands drive the ``api`` package, imported inside each command so that the
# optimizer library never imports the service (or FastAPI) at module import time.

token_app = typer.Typer(
    name="token",
    help="Manage the service's API tokens (only their hashes are stored).",
    no_args_is_help=True,
)
app.add_typer(token_app)

EXAMPLES_DIR = Path("scenarios")


class Role(StrEnum):
    """Who a token acts for (mirrors ``api.db.Role``)."""

    COMMITTEE = "committee"
    PLANNER = "planner"
    ADMIN = "admin"


@contextlib.contextmanager
def _service_errors() -> Iterator[None]:
    """Settings and database problems as one ``error:`` line and exit 2."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except ValidationError as exc:
        _fail(
            [
                f"error: ALLOT_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
                for err in exc.errors(include_url=False)
            ]
        )
    except SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        _fail([f"error: database: {reason}"])


def _open_service_database() -> Any:
    from api.main import open_database
    from api.settings import Settings

    return open_database(Settings())


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=64,
            help="Solve processes of the worker the service embeds (default: ALLOT_WORKERS, "
            "else 2); 0 serves the API only and leaves the runs to 'allot worker' processes.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the allocation service (FastAPI under uvicorn); API docs at /docs."""
    import uvicorn
    from sqlalchemy import make_url

    from api.main import create_app
    from api.settings import Settings

    listening = _listen(host, port)  # before the database: a port in use changes nothing
    with _service_errors():
        settings = Settings() if workers is None else Settings(workers=workers)
        application = create_app(settings)
    _log_to_stderr()
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    executing = (
        f"{settings.workers} solve process(es)" if settings.workers else "API only (--workers 0)"
    )
    _note(f"allot service: database {shown}, {executing}")
    _note(f"ready at http://{host}:{port}/docs")
    server = uvicorn.Server(uvicorn.Config(application, log_level="info"))
    server.run(sockets=[listening])


def _listen(host: str, port: int) -> Any:
    """A socket bound to ``host:port``, or one ``error:`` line and exit 2 (port in use)."""
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        _fail([f"error: cannot listen on {host}:{port}: {exc.strerror or exc}"])
    return sock


def _log_to_stderr() -> None:
    """The service's own log lines (runs taken, leases lost, late results refused)."""
    import logging

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command()
def worker(
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Runs solved at once, each in its own process.")
    ] = 2,
) -> None:
    """Execute queued runs and sweep items from the service's database (ALLOT_DATABASE_URL),
    on this machine or any that reaches the same PostgreSQL, until Ctrl-C or SIGTERM (runs in
    progress then go back to the queue)."""
    import signal
    import threading

    from sqlalchemy import make_url

    from api.settings import Settings
    from api.worker import Worker

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with _service_errors():
        settings = Settings()
        database = _open_service_database()
        runner = Worker(database, settings, concurrency=concurrency)
        runner.start()
    _log_to_stderr()
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    _note(f"allot worker {runner.id}: database {shown}, {concurrency} solve process(es)")
    try:
        while not stop.wait(1.0):
            pass
    finally:
        runner.stop()
        database.dispose()


@token_app.command("create")
def token_create(
    role: Annotated[Role, typer.Option(help="What the token may do.", case_sensitive=False)],
    name: Annotated[
        str | None, typer.Option(help="A name to recognise it by (default: role-id).")
    ] = None,
    expires_in_days: Annotated[
        int | None,
        typer.Option(min=1, max=3650, help="It stops working after this many days."),
    ] = None,
) -> None:
    """Make a token and print it (alone on the last line). It is shown only this once."""
    import datetime as dt

    from api import auth
    from api.db import Role as DbRole

    expires_in = dt.timedelta(days=expires_in_days) if expires_in_days else None

    with _service_errors():
        database = _open_service_database()
        try:
            with database.transaction() as session:
                row, secret = auth.create_token(
                    session, role=DbRole(role.value), name=name, expires_in=expires_in
                )
                token_id, token_name = row.id, row.name
        finally:
            database.dispose()
    typer.echo(f"created token {token_id} '{token_name}' with role {role.value}")
    typer.echo("the token (shown once; only its hash is stored):")
    typer.echo(secret)


@token_app.command("list")
def token_list() -> None:
    """List tokens: id, role, created, revoked, expires, last used (to the minute), name
    (never the secrets); times in UTC."""
    from api import auth

    with _service_errors():
        database = _open_service_database()
        try:
            with database.transaction() as session:
                rows = [
                    (r.id, r.role, r.name, r.created_at, r.revoked_at, r.expires_at, r.last_used_at)
                    for r in auth.list_tokens(session)
                ]
        finally:
            database.dispose()

    def when(moment: Any) -> str:
        return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"

    typer.echo(
        f"{'id':>4}  {'role':<9}  {'created':<20}  {'revoked':<20}  {'expires':<20}  "
        f"{'last used':<20}  name"
    )
    for token_id, role, name, created, revoked, expires, used in rows:
        typer.echo(
            f"{token_id:>4}  {role:<9}  {when(created):<20}  {when(revoked):<20}  "
            f"{when(expires):<20}  {when(used):<20}  {name}"
        )


@token_app.command("check")
def token_check() -> None:
    """Read a token on stdin: exit 0 and say whose it is if it works (not revoked, not
    expired), 1 if it does not (``make run`` reuses its saved admin token this way)."""
    from api import auth

    secret = sys.stdin.readline().strip()
    with _service_errors():
        database = _open_service_database()
        try:
            with database.transaction() as session:
                principal = auth.authenticate(session, secret) if secret else None
        finally:
            database.dispose()
    if principal is None:
        typer.echo("this token does not work (unknown, revoked or expired)", err=True)
        raise typer.Exit(1)
    typer.echo(f"token {principal.token_id} '{principal.name}' with role {principal.role.value}")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id (token list).")],
) -> None:
    """Revoke a token: requests with it get 401 from now on."""
    from api import auth

    with _service_errors():
        database = _open_service_database()
        try:
            with database.transaction() as session:
                row = auth.revoke_token(session, token_id)
                found = row is not None
        finally:
            database.dispose()
    if not found:
        _fail([f"error: no token with id {token_id}"])
    typer.echo(f"revoked token {token_id}")


@app.command("load-examples")
def load_examples(
    directory: Annotated[
        Path, typer.Argument(help="Folder of example scenarios (*.yaml).")
    ] = EXAMPLES_DIR,
) -> None:
    """Store each scenario in DIRECTORY as an upload to POST /v1/scenarios stores it: the
    file with every file it names (its baseline, its spreadsheets), through the service's
    own upload parser and store (skipped when it equals its name's latest version)."""
    from api import inputs
    from api.auth import Principal
    from api.db import Role
    from api.routes.scenarios import store_parsed

    # shortest names first: the baseline before the variants that extend it
    files = (
        sorted(directory.glob("*.yaml"), key=lambda f: (len(f.stem), f.name))
        if directory.is_dir()
        else []
    )
    if not files:
        _fail([f"error: no *.yaml scenarios in {directory}"])
    loader = Principal(token_id=0, name="load-examples", role=Role.ADMIN)
    problems: list[str] = []
    with _service_errors():
        database = _open_service_database()
        try:
            for file in files:
                uploads = [inputs.Upload(p.name, p.read_bytes()) for p in _upload_set(file)]
                try:
                    parse = functools.partial(inputs.scenario_from_upload, files=uploads, fields={})
                    detail, created = store_parsed(database, loader, parse)
                except InputError as exc:
                    problems.extend(f"error: {file}: {p}" for p in exc.problems)
                    continue
                if created:
                    line = (
                        f"stored {file.name}: scenario {detail.id} '{detail.name}' "
                        f"v{detail.version}"
                    )
                else:
                    line = f"skipped {file.name}: already stored as scenario {detail.id}"
                typer.echo(line)
        finally:
            database.dispose()
    if problems:
        _fail(problems)


def _upload_set(path: Path) -> list[Path]:
    """A scenario file and every file it names (its ``extends`` chain, recipient files), as
    a client uploads them together; names that lead nowhere are left for the upload's own
    message."""
    from optimizer.loading import SCENARIO_SUFFIXES, parse_text

    out: list[Path] = []
    todo = [path]
    while todo:
        file = todo.pop(0)
        if file in out or not file.is_file():
            continue
        out.append(file)
        fmt = SCENARIO_SUFFIXES.get(file.suffix.lower())
        if fmt is None:
            continue
        try:
            data = parse_text(file.read_bytes(), fmt=fmt, source=file.name)
        except InputError:
            continue  # the upload reports it
        if not isinstance(data, dict):
            continue
        parent, recipients = data.get("extends"), data.get("recipients")
        if isinstance(parent, str):
            todo.append(file.parent / parent)
        if isinstance(recipients, dict) and isinstance(recipients.get("file"), str):
            todo.append(file.parent / recipients["file"])
    return out
