"""``/ui``: the pages. Every page needs a signed-in session (else 303 to ``/ui/login``);
forms that change something carry the session's CSRF token and need the planner role.

The pages reuse the API's own code for everything they show or do: the same store queries,
the same compare, the same run creation (``POST /v1/runs``) and the same exports, so what the
page shows is what the API answers.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session as DbSession
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import audit, auth, inputs, store
from api.auth import Principal
from api.db import Role, Run
from api.deps import DatabaseDep, JobsDep, SettingsDep
from api.errors import ServiceError
from api.routes import audit as audit_routes
from api.routes import compare as compare_routes
from api.routes import runs as runs_routes
from api.routes import scenarios as scenario_routes
from api.routes import sweeps as sweep_routes
from api.routes.params import Offset, RunId, ScenarioId, SweepId
from api.schemas import AdoptCreate, CompareCreate, RunCreate, SweepCreate
from api.web.downloads import (
    Format,
    compare_sheet,
    matrix_sheet,
    robustness_sheet,
    run_sheet,
    sensitivity_sheet,
    sweep_sheet,
)
from api.web.downloads import (
    download as table_download,
)
from api.web.matrix import NO_ALLOCATION, NO_MATRIX, MatrixView, matrix_view
from api.web.publication import certificate_tables, publication_html
from api.web.queries import list_sweeps
from api.web.rendering import page_locale, render
from api.web.sessions import COOKIE, SESSION_SECONDS, Session, Sessions, principal_of
from api.web.translations import N_, Translator
from api.web.views import (
    CompareView,
    RunRow,
    Unallocated,
    check_views,
    compare_view,
    run_letter,
    run_row,
    run_view,
    scenario_row,
    unallocated,
    verdict_table,
)
from api.web.whatif import (
    DEFAULT_NOISE,
    DEFAULT_SAMPLES,
    DEFAULT_SEED,
    MAX_SAMPLES,
    robustness_view,
    sensitivity_view,
    sweep_row,
    sweep_view,
)
from optimizer.errors import AllotError, InputError, Problem
from optimizer.overrides import parse_assignment

router = APIRouter(prefix="/ui", include_in_schema=False)
log = logging.getLogger("allot.web")

LOGIN = "/ui/login"
HOME = "/ui/runs"
PAGE_SIZE = 50
MAX_COMPARE = 50
COOKIE_PATH = "/ui"


class SignInRequired(Exception):
    """No valid session: the answer is a redirect to the sign-in page."""

    def __init__(self, next_url: str = HOME) -> None:
        super().__init__(next_url)
        self.next_url = next_url


@dataclass(frozen=True)
class Viewer:
    """The signed-in person: their token's principal, the session and its CSRF token."""

    principal: Principal
    session: Session
    csrf: str

    @property
    def can_plan(self) -> bool:
        return self.principal.role.allows(Role.PLANNER)

    @property
    def can_adopt(self) -> bool:
        return self.principal.role in audit_routes.ADOPTERS


class PageError(Exception):
    """A request the page cannot serve: shown as an HTML page with ``status`` in the reader's
    language. ``title`` and ``messages`` are message ids (translated when shown) unless
    ``translated``; ``details`` are shown as given (the API's own words)."""

    def __init__(
        self,
        status: int,
        title: str,
        messages: Iterable[str] = (),
        *,
        viewer: Viewer | None,
        values: Mapping[str, object] | None = None,
        details: Iterable[str] = (),
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.messages = tuple(messages)
        self.viewer = viewer
        self.values = dict(values or {})
        self.details = tuple(details)


def get_sessions(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.web_sessions
    return sessions


SessionsDep = Annotated[Sessions, Depends(get_sessions)]


def _signed_in(request: Request, database: DatabaseDep, sessions: Sessions) -> Viewer | None:
    session = sessions.read(request.cookies.get(COOKIE))
    if session is None:
        return None
    principal = principal_of(database, session)
    if principal is None:
        return None
    return Viewer(principal=principal, session=session, csrf=sessions.csrf_token(session))


def current_viewer(request: Request, database: DatabaseDep, sessions: SessionsDep) -> Viewer:
    """The dependency of every page: the viewer, or a redirect to sign in (and back)."""
    viewer = _signed_in(request, database, sessions)
    if viewer is None:
        here = request.url.path
        if request.method == "GET" and request.url.query:
            here += "?" + request.url.query
        raise SignInRequired(here if request.method == "GET" else HOME)
    return viewer


ViewerDep = Annotated[Viewer, Depends(current_viewer)]
CsrfField = Annotated[str, Form(max_length=200)]


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this web view, never another site.

    >>> safe_next("/ui/runs/3"), safe_next("//evil.example/ui"), safe_next("https://x/ui")
    ('/ui/runs/3', '/ui/runs', '/ui/runs')
    """
    if (
        not target
        or not (target == "/ui" or target.startswith("/ui/") or target.startswith("/ui?"))
        or "\\" in target
        or any(ord(c) < 32 for c in target)
    ):
        return HOME
    return target


def check_form(viewer: Viewer, csrf: str, *, role: Role = Role.PLANNER) -> None:
    """A changing request must carry the session's CSRF token and come from ``role``."""
    if not hmac.compare_digest(csrf.encode(), viewer.csrf.encode()):
        raise PageError(
            403,
            N_("This form is not valid any more"),
            [N_("Its security token does not match your session. Reload the page and try again.")],
            viewer=viewer,
        )
    if not viewer.principal.role.allows(role):
        raise PageError(
            403,
            N_("Planners only"),
            [N_("This needs the %(role)s role; you are signed in as %(yours)s.")],
            viewer=viewer,
            values={"role": role.value, "yours": viewer.principal.role.value},
        )


_TITLES = {
    400: N_("Not possible"),
    404: N_("Not found"),
    409: N_("Not possible yet"),
    413: N_("Too large"),
    422: N_("Invalid input"),
}


@contextmanager
def page_errors(viewer: Viewer | None) -> Iterator[None]:
    """Show the API's errors (unknown ids, bad input, runs not finished) as pages; their
    own words are shown under a title in the reader's language."""
    try:
        yield
    except InputError as exc:
        details = [str(p) for p in exc.problems]
        raise PageError(422, _TITLES[422], viewer=viewer, details=details) from None
    except AllotError as exc:
        raise PageError(422, _TITLES[422], viewer=viewer, details=[str(exc)]) from None
    except ServiceError as exc:
        title = _TITLES.get(exc.status, N_("Not possible"))
        details = [p.message for p in exc.problems]
        raise PageError(exc.status, title, viewer=viewer, details=details) from None


def _versions(session: DbSession, runs: Sequence[Run]) -> dict[int, int]:
    """The stored scenario version of each run's scenario."""
    return store.scenario_versions(session, runs)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _t(request: Request) -> Translator:
    return page_locale(request).t


# --------------------------------------------------------------------------- sign-in


@router.get("")
def home(viewer: ViewerDep) -> RedirectResponse:
    return _see_other(HOME)


@router.get("/login")
def login_page(
    request: Request,
    database: DatabaseDep,
    sessions: SessionsDep,
    next: Annotated[str, Query(max_length=2000)] = HOME,
) -> Response:
    if _signed_in(request, database, sessions) is not None:
        return _see_other(safe_next(next))
    return render(request, "login.html", viewer=None, next=safe_next(next), error=False)


@router.post("/login")
def login(
    request: Request,
    database: DatabaseDep,
    sessions: SessionsDep,
    token: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    """Check the token and start a session that records the token's id (never the token)."""
    secret = token.strip()
    principal = None
    if secret:
        with database.transaction() as session:
            principal = auth.authenticate(session, secret)
    if principal is None or not principal.role.allows(Role.COMMITTEE):
        return render(
            request, "login.html", status=401, viewer=None, next=safe_next(next), error=True
        )
    response = _see_other(safe_next(next))
    response.set_cookie(
        COOKIE,
        sessions.issue(principal.token_id),
        max_age=SESSION_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(viewer: ViewerDep, csrf: CsrfField = "") -> Response:
    check_form(viewer, csrf, role=Role.COMMITTEE)
    response = _see_other(LOGIN)
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax")
    return response


# --------------------------------------------------------------------------- runs


@router.get("/runs")
def runs_page(
    request: Request,
    viewer: ViewerDep,
    database: DatabaseDep,
    scenario: Annotated[str, Query(max_length=20)] = "",
    offset: Offset = 0,
) -> Response:
    """Runs, newest first, optionally of one stored scenario; pick two or more to compare."""
    scenario_id = int(scenario) if scenario.isdigit() and 0 < int(scenario) < 2**31 else None
    with database.transaction() as session:
        rows, total = store.list_runs(
            session,
            status=None,
            scenario_id=scenario_id,
            sweep_id=None,
            limit=PAGE_SIZE,
            offset=offset,
        )
        versions = _versions(session, rows)
        runs = [run_row(run, versions) for run in rows]
        stored, _ = store.list_scenarios(session, name=None, limit=500, offset=0)
        scenarios = [scenario_row(row) for row in stored]
    return render(
        request,
        "runs.html",
        viewer=viewer,
        runs=runs,
        total=total,
        offset=offset,
        page_size=PAGE_SIZE,
        scenarios=scenarios,
        scenario_id=scenario_id,
    )


MapQuery = Annotated[Literal["units", "share", "change"], Query()]


@router.get("/runs/{run_id}")
def run_page(
    request: Request,
    run_id: RunId,
    viewer: ViewerDep,
    database: DatabaseDep,
    map: MapQuery = "units",
) -> Response:
    """One run: the map, the chart, the table with last year, what held whom, the metrics
    and the scenario it ran."""
    with page_errors(viewer), database.transaction() as session:
        run = store.get_run(session, run_id)
        view = run_view(run, _versions(session, [run]), _t(request), map_kind=map)
        trail = [audit_routes.entry_public(entry) for entry in audit.run_entries(session, run)]
        adoption = {"by": run.adopted_by, "at": run.adopted_at, "note": run.adoption_note}
        certificate = certificate_tables((run.result or {}).get("certificate"), limit=200)
    return render(
        request,
        "run.html",
        viewer=viewer,
        run=view,
        trail=trail,
        adoption=adoption,
        certificate=certificate,
    )


@router.post("/runs/{run_id}/adopt")
def adopt(
    run_id: RunId,
    viewer: ViewerDep,
    database: DatabaseDep,
    note: Annotated[str, Form(max_length=2000)] = "",
    csrf: CsrfField = "",
) -> Response:
    """Adopt a run with a note (as ``POST /v1/runs/{id}/adopt``): committee and admins."""
    check_form(viewer, csrf, role=Role.COMMITTEE)
    with page_errors(viewer):
        try:
            body = AdoptCreate(note=note)
        except ValidationError:
            raise InputError([Problem("note", "say why the run is adopted")]) from None
        audit_routes.adopt_run(run_id, body, viewer.principal, database, Response())
    return _see_other(f"/ui/runs/{run_id}")


@router.get("/runs/{run_id}/report")
def run_report(
    request: Request,
    run_id: RunId,
    viewer: ViewerDep,
    database: DatabaseDep,
    map: MapQuery = "units",
) -> Response:
    """One run as a meeting paper (A4): the map, the table, the rules that held, the hash."""
    with page_errors(viewer), database.transaction() as session:
        run = store.get_run(session, run_id)
        view = run_view(run, _versions(session, [run]), _t(request), map_kind=map)
    return render(request, "run_report.html", viewer=viewer, run=view)


@router.get("/runs/{run_id}/publication.html")
def publication(
    request: Request, run_id: RunId, viewer: ViewerDep, database: DatabaseDep
) -> Response:
    """The run as one self-contained HTML file for publication (``allot report``'s file):
    the scenario as run, the result, the certificate, and their JSON for ``allot verify``."""
    t = _t(request)
    with page_errors(viewer), database.transaction() as session:
        run = store.get_run(session, run_id)
        session.expunge(run)
    if run.status != "done" or not run.result:
        raise PageError(
            409,
            _TITLES[409],
            [N_("Run %(run)s is not finished; there is nothing to publish.")],
            viewer=viewer,
            values={"run": run_id},
        )
    about = [(t.gettext("Run"), f"#{run.id}"), (t.gettext("Who"), run.requested_by)]
    if run.adopted_at is not None:
        adopted = f"{run.adopted_by}, {run.adopted_at:%Y-%m-%d %H:%M} UTC: {run.adoption_note}"
        about.append((t.gettext("Adopted"), adopted))
    html = publication_html(
        run.result, run.scenario_body, lang=page_locale(request).lang, about=about
    )
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="allot-run-{run_id}-report.html"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/runs/{run_id}/table.{fmt}")
def run_table(
    request: Request, run_id: RunId, fmt: Format, viewer: ViewerDep, database: DatabaseDep
) -> Response:
    """The run page's table (with last year, the change and the reasons) as CSV or Excel,
    with headers in the reader's language."""
    t = _t(request)
    with page_errors(viewer), database.transaction() as session:
        view = run_view(store.get_run(session, run_id), {}, t)
    return table_download(run_sheet(view, t), f"allot-run-{run_id}-table", fmt)


@router.get("/runs/{run_id}/download.{fmt}")
def download(
    run_id: RunId,
    fmt: Literal["csv", "xlsx", "json"],
    viewer: ViewerDep,
    database: DatabaseDep,
) -> Response:
    """The allocation as CSV or XLSX (the API's exports), or the whole run as JSON (as
    ``GET /v1/runs/{id}`` answers it)."""
    with page_errors(viewer):
        if fmt == "json":
            with database.transaction() as session:
                detail = runs_routes.detail_of(session, store.get_run(session, run_id))
            response = Response(
                detail.model_dump_json(indent=2),
                media_type="application/json",
                headers={"Content-Disposition": f'attachment; filename="allot-run-{run_id}.json"'},
            )
        else:
            response = runs_routes.get_allocations(run_id, viewer.principal, database, format=fmt)
    response.headers["Cache-Control"] = "no-store"
    return response


def _compare(
    request: Request,
    viewer: Viewer,
    database: DatabaseDep,
    run: list[int] | None,
    baseline: int | None,
) -> CompareView:
    ids = sorted(set(run or ()))
    if len(ids) < 2 or len(ids) > MAX_COMPARE:
        raise PageError(
            400,
            N_("Pick two or more runs"),
            [N_("Tick between 2 and %(most)s finished runs in the runs list, then Compare.")],
            viewer=viewer,
            values={"most": MAX_COMPARE},
        )
    if baseline in ids:
        ids.remove(baseline)
        ids.insert(0, baseline)
    t = _t(request)
    with page_errors(viewer), database.transaction() as session:
        stored = store.get_runs(session, ids, path="run")
        versions = _versions(session, stored)
        all_rows = [run_row(r, versions) for r in stored]
        letters = [run_letter(i) for i in range(len(stored))]
        missing: list[Unallocated] = []
        usable: list[RunRow] = []
        for letter, found, row in zip(letters, stored, all_rows, strict=True):
            if found.status == "done" and (found.result or {}).get("allocations"):
                usable.append(row)
            else:
                missing.append(unallocated(letter, row, found.result, found.error, t))
        recipients = [
            r
            for r in (stored[0].scenario_body or {}).get("recipients") or ()
            if isinstance(r, dict)
        ]
        if usable and usable[0].id != all_rows[0].id:
            first = next(r for r in stored if r.id == usable[0].id)
            recipients = [
                r
                for r in (first.scenario_body or {}).get("recipients") or ()
                if isinstance(r, dict)
            ]
    compared = None
    if len(usable) >= 2:
        with page_errors(viewer):
            compared = compare_routes.compare_runs(
                CompareCreate(run_ids=[r.id for r in usable]), viewer.principal, database
            )
    return compare_view(
        compared,
        usable,
        t,
        all_rows=all_rows,
        all_letters=letters,
        missing=missing,
        recipients=recipients,
    )


CompareIds = Annotated[list[int] | None, Query(max_length=MAX_COMPARE + 1)]


@router.get("/compare")
def compare_page(
    request: Request,
    viewer: ViewerDep,
    database: DatabaseDep,
    run: CompareIds = None,
    baseline: Annotated[int | None, Query()] = None,
) -> Response:
    """Two or more runs side by side; the baseline is ``baseline`` if given, else the oldest.
    Runs without an allocation are shown as such, with their diagnosis."""
    view = _compare(request, viewer, database, run, baseline)
    picked = [("run", r.id) for r in view.all_runs]
    if view.runs:
        picked.append(("baseline", view.runs[0].id))
    with database.transaction() as session:
        compared = store.get_runs(session, [r.id for r in view.runs], path="run")
        verdicts = verdict_table([(r.result or {}).get("checks") for r in compared], _t(request))
    return render(
        request,
        "compare.html",
        viewer=viewer,
        view=view,
        table_query="?" + urlencode(picked),
        verdicts=verdicts,
    )


@router.get("/compare/report")
def compare_report(
    request: Request,
    viewer: ViewerDep,
    database: DatabaseDep,
    run: CompareIds = None,
    baseline: Annotated[int | None, Query()] = None,
) -> Response:
    """The comparison as a meeting paper (A4)."""
    view = _compare(request, viewer, database, run, baseline)
    return render(request, "compare_report.html", viewer=viewer, view=view)


@router.get("/compare/table.{fmt}")
def compare_table(
    request: Request,
    fmt: Format,
    viewer: ViewerDep,
    database: DatabaseDep,
    run: CompareIds = None,
    baseline: Annotated[int | None, Query()] = None,
) -> Response:
    """The comparison's table as CSV or Excel."""
    view = _compare(request, viewer, database, run, baseline)
    names = "-".join(str(r.id) for r in view.all_runs)
    return table_download(compare_sheet(view, _t(request)), f"allot-compare-{names}", fmt)


# --------------------------------------------------------------------------- what-if


@router.get("/sweeps")
def sweeps_page(
    request: Request, viewer: ViewerDep, database: DatabaseDep, offset: Offset = 0
) -> Response:
    """Stored sweeps, newest first."""
    with database.transaction() as session:
        rows, total = list_sweeps(session, limit=PAGE_SIZE, offset=offset)
        sweeps = [sweep_row(row) for row in rows]
    return render(
        request,
        "sweeps.html",
        viewer=viewer,
        sweeps=sweeps,
        total=total,
        offset=offset,
        page_size=PAGE_SIZE,
    )


@router.get("/sweeps/{sweep_id}")
def sweep_page(
    request: Request, sweep_id: SweepId, viewer: ViewerDep, database: DatabaseDep
) -> Response:
    """One sweep: units per recipient against the swept value, a line per recipient."""
    with page_errors(viewer), database.transaction() as session:
        sweep, runs = store.get_sweep(session, sweep_id)
        view = sweep_view(sweep, runs, _t(request))
        verdicts = sweep_routes.sweep_verdicts(sweep_routes.sweep_axes(sweep), runs)
    checks = check_views(verdicts, _t(request))
    return render(request, "sweep.html", viewer=viewer, view=view, checks=checks)


@router.get("/sweeps/{sweep_id}/table.{fmt}")
def sweep_table(
    request: Request, sweep_id: SweepId, fmt: Format, viewer: ViewerDep, database: DatabaseDep
) -> Response:
    """Units per recipient for each value, as CSV or Excel."""
    t = _t(request)
    with page_errors(viewer), database.transaction() as session:
        sweep, runs = store.get_sweep(session, sweep_id)
        view = sweep_view(sweep, runs, t)
    return table_download(sweep_sheet(view, t), f"allot-sweep-{sweep_id}", fmt)


@router.post("/runs/{run_id}/sweep")
def start_sweep(
    run_id: RunId,
    viewer: ViewerDep,
    database: DatabaseDep,
    pool: JobsDep,
    settings: SettingsDep,
    set: Annotated[list[str] | None, Form()] = None,
    csrf: CsrfField = "",
) -> Response:
    """Sweep a parameter of a run's stored scenario (with its overrides), or two as a grid
    (``set`` twice), as ``POST /v1/sweeps``; planners only."""
    check_form(viewer, csrf)
    with page_errors(viewer), database.transaction() as session:
        run = store.get_run(session, run_id)
        scenario_id, overrides = run.scenario_id, list(run.overrides)
    if scenario_id is None:
        raise PageError(
            409,
            _TITLES[409],
            [N_("This run's scenario was sent inline, not stored; store it to sweep it.")],
            viewer=viewer,
        )
    specs = [spec.strip() for spec in set or () if spec.strip()] or [""]
    swept = {_path(spec) for spec in specs}
    kept = [o for o in overrides if _path(o) not in swept]
    with page_errors(viewer):
        try:
            body = SweepCreate(
                scenario_id=scenario_id, overrides=kept, set=specs if len(specs) > 1 else specs[0]
            )
        except ValidationError as exc:
            raise InputError(
                [Problem("set", str(e.get("msg", "invalid"))) for e in exc.errors()]
            ) from None
        created = sweep_routes.create_sweep(
            body, viewer.principal, database, pool, settings, Response(), run_async=True
        )
    return _see_other(f"/ui/sweeps/{created.id}")


def _finished_run(viewer: Viewer, database: DatabaseDep, run_id: int) -> Run:
    with page_errors(viewer), database.transaction() as session:
        run = store.get_run(session, run_id)
        session.expunge(run)
    if run.status != "done":
        message = (
            N_("Run %(run)s failed, so there is nothing to analyse.")
            if run.status == "failed"
            else N_("Run %(run)s is not finished; what-if pages need a finished run.")
        )
        raise PageError(409, _TITLES[409], [message], viewer=viewer, values={"run": run_id})
    return run


def _matrix(
    request: Request, viewer: Viewer, database: DatabaseDep, run_id: int, columns: str | None
) -> tuple[Run, MatrixView]:
    """A finished run's matrix, or a 409 page saying its scenario has none."""
    run = _finished_run(viewer, database, run_id)
    view = matrix_view(run.scenario_body or {}, run.result or {}, _t(request), columns=columns)
    if view is None:
        found = (run.result or {}).get("allocations")
        why = NO_MATRIX if found else NO_ALLOCATION
        raise PageError(409, _TITLES[409], [why], viewer=viewer, values={"run": run_id})
    return run, view


MatrixColumns = Annotated[str | None, Query(max_length=200)]


@router.get("/runs/{run_id}/matrix")
def matrix_page(
    request: Request,
    run_id: RunId,
    viewer: ViewerDep,
    database: DatabaseDep,
    columns: MatrixColumns = None,
    heat: Annotated[bool, Query()] = True,
) -> Response:
    """The plan's matrix: units per region x kind (a biproportional rule) or per group x
    programme tag (two stages), with the totals and the divisors that certify them."""
    run, view = _matrix(request, viewer, database, run_id, columns)
    return render(request, "matrix.html", viewer=viewer, run=run_row(run, {}), view=view, heat=heat)


@router.get("/runs/{run_id}/matrix.{fmt}")
def matrix_table(
    request: Request,
    run_id: RunId,
    fmt: Format,
    viewer: ViewerDep,
    database: DatabaseDep,
    columns: MatrixColumns = None,
) -> Response:
    """The matrix page's table as CSV or Excel."""
    _, view = _matrix(request, viewer, database, run_id, columns)
    return table_download(matrix_sheet(view, _t(request)), f"allot-run-{run_id}-matrix", fmt)


@dataclass(frozen=True)
class Noise:
    """The robustness analysis's query: the noise on scores (points), samples and seed."""

    noise: float
    samples: int
    seed: int


def noise_query(
    noise: Annotated[float, Query(ge=0, le=50)] = DEFAULT_NOISE,
    samples: Annotated[int, Query(ge=1, le=MAX_SAMPLES)] = DEFAULT_SAMPLES,
    seed: Annotated[int, Query(ge=0, le=2**31)] = DEFAULT_SEED,
) -> Noise:
    """The robustness page's and table's query parameters, read and bounded once."""
    return Noise(noise, samples, seed)


NoiseDep = Annotated[Noise, Depends(noise_query)]
_V = TypeVar("_V")


def _analysed(viewer: Viewer, view: _V | str) -> _V:
    """A what-if analysis, or the 409 page with the sentence saying why there is none."""
    if isinstance(view, str):
        raise PageError(409, _TITLES[409], viewer=viewer, details=[view])
    return view


@router.get("/runs/{run_id}/sensitivity")
def sensitivity_page(
    request: Request, run_id: RunId, viewer: ViewerDep, database: DatabaseDep
) -> Response:
    """What it would take: for each recipient the score change that gains or loses a unit."""
    run = _finished_run(viewer, database, run_id)
    with page_errors(viewer):
        view = sensitivity_view(run, _t(request))
    return render(
        request,
        "sensitivity.html",
        viewer=viewer,
        run=run_row(run, {}),
        view=view,
    )


@router.get("/runs/{run_id}/sensitivity.{fmt}")
def sensitivity_table(
    request: Request, run_id: RunId, fmt: Format, viewer: ViewerDep, database: DatabaseDep
) -> Response:
    t = _t(request)
    view = _analysed(viewer, sensitivity_view(_finished_run(viewer, database, run_id), t))
    return table_download(sensitivity_sheet(view, t), f"allot-run-{run_id}-sensitivity", fmt)


@router.get("/runs/{run_id}/robustness.{fmt}")
def robustness_table(
    request: Request,
    run_id: RunId,
    fmt: Format,
    viewer: ViewerDep,
    database: DatabaseDep,
    noise: NoiseDep,
) -> Response:
    t = _t(request)
    run = _finished_run(viewer, database, run_id)
    view = robustness_view(run, t, noise=noise.noise, samples=noise.samples, seed=noise.seed)
    view = _analysed(viewer, view)
    return table_download(robustness_sheet(view, t), f"allot-run-{run_id}-robustness", fmt)


@router.get("/runs/{run_id}/robustness")
def robustness_page(
    request: Request,
    run_id: RunId,
    viewer: ViewerDep,
    database: DatabaseDep,
    noise: NoiseDep,
) -> Response:
    """Each recipient's range of units when every score gets normal noise."""
    run = _finished_run(viewer, database, run_id)
    with page_errors(viewer):
        view = robustness_view(
            run, _t(request), noise=noise.noise, samples=noise.samples, seed=noise.seed
        )
    return render(
        request,
        "robustness.html",
        viewer=viewer,
        run=run_row(run, {}),
        view=view,
        noise=noise.noise,
        samples=noise.samples,
        seed=noise.seed,
        max_samples=MAX_SAMPLES,
    )


# --------------------------------------------------------------------------- planner actions


@router.get("/scenarios")
def scenarios_page(
    request: Request,
    viewer: ViewerDep,
    database: DatabaseDep,
    stored: Annotated[int | None, Query()] = None,
) -> Response:
    """Stored scenarios; planners upload new ones and run them here."""
    return _scenarios(request, viewer, database, stored=stored)


def _scenarios(
    request: Request,
    viewer: Viewer,
    database: DatabaseDep,
    *,
    stored: int | None = None,
    problems: Sequence[str] = (),
    status: int = 200,
) -> Response:
    with database.transaction() as session:
        rows, total = store.list_scenarios(session, name=None, limit=200, offset=0)
        scenarios = [scenario_row(row) for row in rows]
    return render(
        request,
        "scenarios.html",
        status=status,
        viewer=viewer,
        scenarios=scenarios,
        total=total,
        stored=stored,
        problems=problems,
    )


@router.post("/scenarios")
def upload_scenario(
    request: Request,
    viewer: ViewerDep,
    database: DatabaseDep,
    files: Annotated[list[UploadFile] | None, File()] = None,
    name: Annotated[str, Form(max_length=600)] = "",
    budget: Annotated[str, Form(max_length=40)] = "",
    csrf: CsrfField = "",
) -> Response:
    """Store uploaded files as ``POST /v1/scenarios`` does with a multipart upload: a YAML or
    JSON scenario with the spreadsheets (and baseline) it names, or one spreadsheet alone
    with the scenario's name and budget given in the form."""
    check_form(viewer, csrf)
    chosen = [upload for upload in files or () if upload.filename]
    if not chosen:
        problems = [_t(request).gettext("Choose a scenario file.")]
        return _scenarios(request, viewer, database, problems=problems, status=422)
    uploads = [inputs.Upload(upload.filename, upload.file.read()) for upload in chosen]
    given = (("name", name), ("budget", budget.replace(",", "")))
    fields = {key: text.strip() for key, text in given if text.strip()}
    try:
        detail, _ = scenario_routes.store_parsed(
            database,
            viewer.principal,
            lambda session: inputs.scenario_from_upload(session, uploads, fields),
        )
    except AllotError as exc:
        problems = [str(p) for p in exc.problems] if isinstance(exc, InputError) else [str(exc)]
        return _scenarios(request, viewer, database, problems=problems, status=422)
    return _see_other(f"/ui/scenarios?stored={detail.id}")


def _budget_overrides(budget: str, stored_budget: object, viewer: Viewer) -> list[str]:
    """``["budget=N"]`` when a budget other than the stored scenario's is asked for."""
    text = budget.strip().replace(",", "")
    if not text:
        return []
    if not text.isdigit():
        raise PageError(
            422, _TITLES[422], [N_("budget: give a whole number of units")], viewer=viewer
        )
    if int(text) == stored_budget:
        return []
    return [f"budget={int(text)}"]


def _start_run(
    viewer: Viewer,
    database: DatabaseDep,
    pool: JobsDep,
    settings: SettingsDep,
    body: RunCreate,
) -> Response:
    with page_errors(viewer):
        detail = runs_routes.create_run(
            body, viewer.principal, database, pool, settings, Response()
        )
    return _see_other(f"/ui/runs/{detail.id}")


@router.post("/scenarios/{scenario_id}/run")
def run_scenario(
    scenario_id: ScenarioId,
    viewer: ViewerDep,
    database: DatabaseDep,
    pool: JobsDep,
    settings: SettingsDep,
    budget: Annotated[str, Form(max_length=20)] = "",
    csrf: CsrfField = "",
) -> Response:
    """Run a stored scenario, with ``budget=...`` as an override when a budget is given."""
    check_form(viewer, csrf)
    with page_errors(viewer), database.transaction() as session:
        stored_budget = store.get_scenario(session, scenario_id).body.get("budget")
    overrides = _budget_overrides(budget, stored_budget, viewer)
    body = RunCreate(scenario_id=scenario_id, overrides=overrides)
    return _start_run(viewer, database, pool, settings, body)


def _path(assignment: str) -> str:
    try:
        return parse_assignment(assignment)[0].strip()
    except ValueError:
        return ""


@router.post("/runs/{run_id}/rerun")
def rerun(
    run_id: RunId,
    viewer: ViewerDep,
    database: DatabaseDep,
    pool: JobsDep,
    settings: SettingsDep,
    budget: Annotated[str, Form(max_length=20)] = "",
    csrf: CsrfField = "",
) -> Response:
    """Run a run's stored scenario again with its overrides and a changed budget."""
    check_form(viewer, csrf)
    with page_errors(viewer), database.transaction() as session:
        run = store.get_run(session, run_id)
        scenario_id, overrides = run.scenario_id, list(run.overrides)
        stored = store.get_scenario(session, scenario_id) if scenario_id is not None else None
        stored_budget = stored.body.get("budget") if stored is not None else None
    if scenario_id is None:
        raise PageError(
            409,
            _TITLES[409],
            [N_("This run's scenario was sent inline, not stored; store it to run it again.")],
            viewer=viewer,
        )
    kept = [o for o in overrides if _path(o) != "budget"]
    changed = _budget_overrides(budget, stored_budget, viewer)
    note = f"re-run of run {run_id}" + (f" with {changed[0]}" if changed else "")
    body = RunCreate(scenario_id=scenario_id, overrides=kept + changed, note=note)
    return _start_run(viewer, database, pool, settings, body)


# --------------------------------------------------------------------------- errors


async def sign_in_required(request: Request, exc: Exception) -> Response:
    """303 to the sign-in page, with the page asked for as ``next``; a bad cookie is dropped."""
    assert isinstance(exc, SignInRequired)
    target = LOGIN
    if exc.next_url != HOME:
        target += "?" + urlencode({"next": exc.next_url})
    response = _see_other(target)
    if COOKIE in request.cookies:
        response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax")
    return response


def _viewer_of(request: Request) -> Viewer | None:
    """Who is signed in, for an error page outside a route's dependencies."""
    sessions = getattr(request.app.state, "web_sessions", None)
    database = getattr(request.app.state, "database", None)
    if sessions is None or database is None:
        return None
    try:
        return _signed_in(request, database, sessions)
    except Exception:  # an error page must not fail on its header
        return None


async def page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    t = _t(request)
    return render(
        request,
        "error.html",
        status=exc.status,
        viewer=exc.viewer,
        title=t.gettext(exc.title),
        messages=[t.gettext(m, **exc.values) for m in exc.messages],
        details=exc.details,
    )


async def request_error(request: Request, exc: Exception) -> Response:
    """A ``/ui`` address with a malformed id or query (``/ui/runs/abc``): an HTML page."""
    assert isinstance(exc, RequestValidationError)
    details = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ())[1:]) or "?"
        details.append(f"{where}: {err.get('msg', 'invalid')}")
    status = 404 if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()) else 422
    t = _t(request)
    title = t.gettext(_TITLES[status])
    messages = [t.gettext("This address does not name a page of Allot.")] if status == 404 else []
    return render(
        request,
        "error.html",
        status=status,
        viewer=_viewer_of(request),
        title=title,
        messages=messages,
        details=details,
    )


async def not_found(request: Request, exc: Exception) -> Response:
    """An unknown ``/ui`` address or method: an HTML page."""
    assert isinstance(exc, StarletteHTTPException)
    t = _t(request)
    title = t.gettext(_TITLES.get(exc.status_code, N_("Not possible")))
    messages = (
        [t.gettext("This address does not name a page of Allot.")] if exc.status_code == 404 else []
    )
    return render(
        request,
        "error.html",
        status=exc.status_code,
        viewer=_viewer_of(request),
        title=title,
        messages=messages,
        details=[],
    )


async def internal_error(request: Request, exc: Exception) -> Response:
    """An unexpected error on a ``/ui`` page: an HTML page with a reference to the log."""
    reference = uuid.uuid4().hex[:12]
    log.error(
        "unexpected error (reference %s) on %s %s",
        reference,
        request.method,
        request.url.path,
        exc_info=exc,
    )
    t = _t(request)
    return render(
        request,
        "error.html",
        status=500,
        viewer=_viewer_of(request),
        title=t.gettext("Something went wrong"),
        messages=[
            t.gettext(
                "Nothing was changed. Tell the service's administrator reference %(ref)s.",
                ref=reference,
            )
        ],
        details=[],
    )
