"""``/ui``: the pages. Every page needs a signed-in session (else 303 to ``/ui/login``);
forms that change something carry the session's CSRF token and need the planner role.

The pages reuse the API's own code for everything they show or do: the same store queries,
the same compare, the same run creation (``POST /v1/runs``) and the same exports, so what the
page shows is what the API answers.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session as DbSession

from api import auth, store
from api.auth import Principal
from api.db import Role, Run
from api.deps import DatabaseDep, JobsDep, SettingsDep
from api.errors import ServiceError
from api.routes import compare as compare_routes
from api.routes import runs as runs_routes
from api.routes import scenarios as scenario_routes
from api.routes.params import Offset, RunId, ScenarioId
from api.schemas import CompareCreate, RunCreate, run_detail
from api.web.rendering import render
from api.web.sessions import COOKIE, SESSION_SECONDS, Session, Sessions, principal_of
from api.web.views import compare_view, run_row, run_view, scenario_row
from optimizer.errors import AllotError, InputError
from optimizer.overrides import parse_assignment

router = APIRouter(prefix="/ui", include_in_schema=False)

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


class PageError(Exception):
    """A request the page cannot serve: shown as an HTML page with ``status``."""

    def __init__(
        self, status: int, title: str, messages: Iterable[str] = (), *, viewer: Viewer | None
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.messages = tuple(messages)
        self.viewer = viewer


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
            "This form is not valid any more",
            ["Its security token does not match your session. Reload the page and try again."],
            viewer=viewer,
        )
    if not viewer.principal.role.allows(role):
        raise PageError(
            403,
            "Planners only",
            [
                f"This needs the {role.value} role; you are signed in as "
                f"{viewer.principal.role.value}."
            ],
            viewer=viewer,
        )


_TITLES = {404: "Not found", 409: "Not possible yet", 413: "Too large", 422: "Invalid input"}


@contextmanager
def page_errors(viewer: Viewer) -> Iterator[None]:
    """Show the API's errors (unknown ids, bad input, runs not finished) as pages."""
    try:
        yield
    except InputError as exc:
        raise PageError(422, _TITLES[422], [str(p) for p in exc.problems], viewer=viewer) from None
    except AllotError as exc:
        raise PageError(422, _TITLES[422], [str(exc)], viewer=viewer) from None
    except ServiceError as exc:
        title = _TITLES.get(exc.status, "Not possible")
        messages = [p.message for p in exc.problems]
        raise PageError(exc.status, title, messages, viewer=viewer) from None


def _versions(session: DbSession, runs: Sequence[Run]) -> dict[int, int]:
    """The stored scenario version of each run's scenario."""
    ids = {run.scenario_id for run in runs if run.scenario_id is not None}
    return {sid: store.get_scenario(session, sid).version for sid in ids}


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


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
    return render("login.html", viewer=None, next=safe_next(next), error=None)


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
        error = "That token is not valid, or it has been revoked."
        return render("login.html", status=401, viewer=None, next=safe_next(next), error=error)
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
        "runs.html",
        viewer=viewer,
        runs=runs,
        total=total,
        offset=offset,
        page_size=PAGE_SIZE,
        scenarios=scenarios,
        scenario_id=scenario_id,
    )


@router.get("/runs/{run_id}")
def run_page(run_id: RunId, viewer: ViewerDep, database: DatabaseDep) -> Response:
    """One run: the chart, the table, what bound, the metrics and the scenario it ran."""
    with page_errors(viewer), database.transaction() as session:
        run = store.get_run(session, run_id)
        view = run_view(run, _versions(session, [run]))
    return render("run.html", viewer=viewer, run=view)


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
                detail = run_detail(store.get_run(session, run_id))
            response = Response(
                detail.model_dump_json(indent=2),
                media_type="application/json",
                headers={"Content-Disposition": f'attachment; filename="allot-run-{run_id}.json"'},
            )
        else:
            response = runs_routes.get_allocations(run_id, viewer.principal, database, format=fmt)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/compare")
def compare_page(
    viewer: ViewerDep,
    database: DatabaseDep,
    run: Annotated[list[int] | None, Query(max_length=MAX_COMPARE + 1)] = None,
    baseline: Annotated[int | None, Query()] = None,
) -> Response:
    """Two or more runs side by side; the baseline is ``baseline`` if given, else the oldest."""
    ids = sorted(set(run or ()))
    if len(ids) < 2 or len(ids) > MAX_COMPARE:
        raise PageError(
            400,
            "Pick two or more runs",
            [f"Tick between 2 and {MAX_COMPARE} finished runs in the runs list, then Compare."],
            viewer=viewer,
        )
    if baseline in ids:
        ids.remove(baseline)
        ids.insert(0, baseline)
    with page_errors(viewer):
        compared = compare_routes.compare_runs(
            CompareCreate(run_ids=ids), viewer.principal, database
        )
        with database.transaction() as session:
            runs = store.get_runs(session, ids, path="run")
            versions = _versions(session, runs)
            rows = [run_row(r, versions) for r in runs]
    return render("compare.html", viewer=viewer, view=compare_view(compared, rows))


# --------------------------------------------------------------------------- planner actions


@router.get("/scenarios")
def scenarios_page(
    viewer: ViewerDep, database: DatabaseDep, stored: Annotated[int | None, Query()] = None
) -> Response:
    """Stored scenarios; planners upload new ones and run them here."""
    return _scenarios(viewer, database, stored=stored)


def _scenarios(
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
        "scenarios.html",
        status=status,
        viewer=viewer,
        scenarios=scenarios,
        total=total,
        stored=stored,
        problems=problems,
    )


_FILE_TYPES = {".yaml": "application/yaml", ".yml": "application/yaml", ".json": "application/json"}


@router.post("/scenarios")
def upload_scenario(
    viewer: ViewerDep,
    database: DatabaseDep,
    file: Annotated[UploadFile | None, File()] = None,
    csrf: CsrfField = "",
) -> Response:
    """Store an uploaded YAML or JSON scenario (as ``POST /v1/scenarios``)."""
    check_form(viewer, csrf)
    if file is None or not file.filename:
        return _scenarios(viewer, database, problems=["Choose a scenario file."], status=422)
    raw = file.file.read()
    content_type = _FILE_TYPES.get(PurePosixPath(file.filename).suffix.lower())
    try:
        detail = scenario_routes._create(database, raw, content_type, viewer.principal)
    except AllotError as exc:
        problems = [str(p) for p in exc.problems] if isinstance(exc, InputError) else [str(exc)]
        return _scenarios(viewer, database, problems=problems, status=422)
    return _see_other(f"/ui/scenarios?stored={detail.id}")


def _budget_overrides(budget: str, stored_budget: object, viewer: Viewer) -> list[str]:
    """``["budget=N"]`` when a budget other than the stored scenario's is asked for."""
    text = budget.strip().replace(",", "")
    if not text:
        return []
    if not text.isdigit():
        raise PageError(422, _TITLES[422], ["budget: give a whole number of units"], viewer=viewer)
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
            ["This run's scenario was sent inline, not stored; store it to run it again."],
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


async def page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    return render(
        "error.html",
        status=exc.status,
        viewer=exc.viewer,
        title=exc.title,
        messages=exc.messages,
    )
