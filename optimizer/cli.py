"""The ``allot`` command line: ``allot validate FILE`` and ``allot solve FILE``.

A thin layer over :mod:`optimizer`: it loads a scenario with
:func:`optimizer.loading.load_scenario`, solves it with :func:`optimizer.solve.solve` and
prints the :class:`~optimizer.result.Result` as a Rich table, JSON (exactly
``Result.to_dict``) or CSV.

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
import csv
import io
import json
import math
import os
import sys
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TextIO, get_args

import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

import optimizer
from optimizer import solvers
from optimizer.compile import build_program
from optimizer.errors import AllotError, InputError, Problem
from optimizer.loading import load_scenario
from optimizer.result import Result, Status
from optimizer.scenario import Backend, Scenario
from optimizer.solve import choose_backend, solve

EXIT_OK = 0
EXIT_INFEASIBLE = 1
EXIT_INPUT = 2
EXIT_NO_ALLOCATION = 3

BACKENDS: tuple[str, ...] = get_args(Backend)
MAX_TIME_LIMIT_S = 86_400.0
CSV_COLUMNS = ("id", "name", "grade", "score", "quota", "units", "amount", "share", "binding")
PLAIN_WIDTH = 200
"""Line width for tables written to a file or pipe (a terminal uses its own width)."""


class OutputFormat(StrEnum):
    """How ``allot solve`` prints the result."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


app = typer.Typer(
    name="allot",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def main() -> None:
    """Console entry point (``allot``)."""
    for stream in (sys.stdout, sys.stderr):
        # Never crash on a name the terminal cannot encode; UTF-8 streams are left alone.
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if encoding != "utf8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    app()


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
        OutputFormat,
        typer.Option("--format", "-f", help="Output format.", case_sensitive=False),
    ] = OutputFormat.TABLE,
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
) -> None:
    """Allocate a scenario and print the allocation, metrics and solver report."""
    with _errors_as_exit():
        option_problems = _option_problems(backend, time_limit, out)
        try:
            scenario = load_scenario(file)
        except InputError as exc:
            raise InputError([*option_problems, *exc.problems]) from None
        if option_problems:
            raise InputError(option_problems)
        with _stdout_reserved():
            result = solve(scenario, backend=backend, time_limit_s=time_limit)
        if out is not None:
            _write_file(out, _render(result, scenario, fmt))
    if out is not None:
        _note(f"wrote {fmt.value} output to {out}")
    elif fmt is OutputFormat.TABLE and (console := _console(sys.stdout)).is_terminal:
        _print_report(console, result, scenario)
    else:
        sys.stdout.write(_render(result, scenario, fmt))
        sys.stdout.flush()
    raise typer.Exit(_report_status(result, fmt, to_file=out is not None))


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
    if result.status.has_allocation and result.allocations:
        if result.status != Status.OPTIMAL:
            _note(
                f"warning: the allocation is not proven optimal (status {result.status}, "
                f"gap {_gap_text(result.solver.gap)})"
            )
        return EXIT_OK
    reason = result.message or "no allocation was found"
    _note(f"error: solver {result.solver.backend} stopped with status {result.status}: {reason}")
    return EXIT_NO_ALLOCATION


# --------------------------------------------------------------------------- rendering


def _render(result: Result, scenario: Scenario, fmt: OutputFormat) -> str:
    """The report as text; tables as plain text without colour."""
    if fmt is OutputFormat.JSON:
        return json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n"
    if fmt is OutputFormat.CSV:
        return _csv_text(result)
    buffer = io.StringIO()
    _print_report(_console(buffer, plain=True), result, scenario)
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def _console(file: TextIO, *, plain: bool = False) -> Console:
    """A Rich console on ``file``; ``plain``: no colour and a wide fixed width (files, pipes).
    Markup is off: names and field paths may contain brackets."""
    options: dict[str, Any] = {"color_system": None, "width": PLAIN_WIDTH} if plain else {}
    return Console(file=file, highlight=False, markup=False, emoji=False, **options)


def _csv_text(result: Result) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for a in result.allocations:
        writer.writerow(
            [
                a.id,
                a.name,
                a.grade or "",
                _number(a.score),
                _number(a.quota),
                a.units,
                _number(a.amount),
                _number(a.share),
                ";".join(a.binding),
            ]
        )
    return buffer.getvalue()


def _number(value: float) -> str:
    """Full precision, without a trailing ``.0`` on whole numbers."""
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _print_report(console: Console, result: Result, scenario: Scenario) -> None:
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
    else:
        console.print(title)
        console.print(Text(f"status {result.status}: no allocation", style="bold red"))
    if result.diagnosis is not None:
        for line in _diagnosis_lines(result):
            console.print(Text(line))
    elif result.message:
        console.print(Text(result.message))
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


def _allocation_table(result: Result, title: Text, label: str, *, with_amount: bool) -> Table:
    """One row per recipient. Numbers never wrap or get cut; on a narrow terminal the name
    and binding columns fold instead."""
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
    return "unknown" if gap is None else f"{gap:.2%}"


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

    return open_database(Settings(), recover=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Threads executing queued runs (default: ALLOT_WORKERS, else 2). The "
            "service is one process, so that start-up recovery of interrupted runs is exact.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the allocation service (FastAPI under uvicorn); API docs at /docs."""
    import uvicorn
    from sqlalchemy import make_url

    from api.main import create_app
    from api.settings import Settings

    with _service_errors():
        settings = Settings() if workers is None else Settings(workers=workers)
        application = create_app(settings)
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    _note(f"allot service: database {shown}, {settings.workers} worker(s)")
    _note(f"ready at http://{host}:{port}/docs")
    uvicorn.run(application, host=host, port=port, log_level="info")


@token_app.command("create")
def token_create(
    role: Annotated[Role, typer.Option(help="What the token may do.", case_sensitive=False)],
    name: Annotated[
        str | None, typer.Option(help="A name to recognise it by (default: role-id).")
    ] = None,
) -> None:
    """Make a token and print it (alone on the last line). It is shown only this once."""
    from api import auth
    from api.db import Role as DbRole

    with _service_errors():
        database = _open_service_database()
        try:
            with database.transaction() as session:
                row, secret = auth.create_token(session, role=DbRole(role.value), name=name)
                token_id, token_name = row.id, row.name
        finally:
            database.dispose()
    typer.echo(f"created token {token_id} '{token_name}' with role {role.value}")
    typer.echo("the token (shown once; only its hash is stored):")
    typer.echo(secret)


@token_app.command("list")
def token_list() -> None:
    """List tokens: id, role, name, created, revoked (never the secrets)."""
    from api import auth

    with _service_errors():
        database = _open_service_database()
        try:
            with database.transaction() as session:
                rows = [
                    (r.id, r.role, r.name, r.created_at, r.revoked_at)
                    for r in auth.list_tokens(session)
                ]
        finally:
            database.dispose()
    typer.echo(f"{'id':>4}  {'role':<9}  {'created':<20}  {'revoked':<20}  name")
    for token_id, role, name, created, revoked in rows:
        revoked_text = revoked.strftime("%Y-%m-%d %H:%M:%S") if revoked else "-"
        typer.echo(
            f"{token_id:>4}  {role:<9}  {created.strftime('%Y-%m-%d %H:%M:%S'):<20}  "
            f"{revoked_text:<20}  {name}"
        )


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
    """Store each scenario in DIRECTORY once (skipped when its content hash is stored)."""
    from api import store

    # shortest names first: the baseline before the variants that extend it
    files = (
        sorted(directory.glob("*.yaml"), key=lambda f: (len(f.stem), f.name))
        if directory.is_dir()
        else []
    )
    if not files:
        _fail([f"error: no *.yaml scenarios in {directory}"])
    problems: list[str] = []
    with _service_errors():
        database = _open_service_database()
        try:
            for file in files:
                try:
                    scenario = load_scenario(file)
                except InputError as exc:
                    problems.extend(f"error: {file}: {p}" for p in exc.problems)
                    continue
                with database.transaction() as session:
                    existing = store.find_scenario_by_hash(session, scenario.content_hash)
                    if existing is None:
                        row = store.add_scenario(session, scenario, created_by="load-examples")
                        line = f"stored {file.name}: scenario {row.id} '{row.name}' v{row.version}"
                    else:
                        line = f"skipped {file.name}: already stored as scenario {existing.id}"
                typer.echo(line)
        finally:
            database.dispose()
    if problems:
        _fail(problems)
