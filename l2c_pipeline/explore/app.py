"""The explorer's web app (Starlette): server-rendered pages whose whole state is the URL.

One page, `/`, shows a view (map, stats, variants, cases, case, questions, compare) of the
filtered cases; its form submits with GET, so every view and filter is a shareable address and
a reload shows the same. `/export.csv` and `/export.xes` give the filtered log.

Safe by default: the command binds 127.0.0.1; there the Host header must name the loopback
(a web page elsewhere cannot reach the explorer by rebinding a name to 127.0.0.1). Bound to any
other address it asks for a token: `?token=` once (then a cookie), or `Authorization: Bearer`.
A bad parameter is answered 400 with one line, an unexpected failure 500 with one line (the
stack trace goes to the server's log only).
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..outputs.answers import duration as hours_text
from ..outputs.html_report import QUESTIONS
from ..outputs.process_maps import DEFAULT_MAX_EDGES, duration_label
from . import filters as flt
from . import queries, questions
from .source import AnalyticsSource

log = logging.getLogger("l2c.explore")

VIEWS = ("map", "stats", "variants", "cases", "case", "questions", "compare")
KINDS = ("frequency", "performance")
VIEW_PARAMETERS = ("view", "kind", "touches", "acts", "paths", "sort", "page", "case", "token")
# The longest address answered: a filter names things the log holds (see filters.py).
MAX_QUERY_CHARACTERS = 8000
# The filtered log exported as XES goes through pm4py in memory: at most this many events.
MAX_XES_EVENTS = 1_000_000
COOKIE = "l2c_explore_token"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")


class BadRequest(ValueError):
    pass


@dataclass(frozen=True)
class State:
    view: str = "map"
    kind: str = "frequency"
    touches: bool = False
    acts: int | None = None
    paths: int = DEFAULT_MAX_EDGES
    sort: str = "started"
    page: int = 0
    case: str | None = None

    def params(self) -> list[tuple[str, str]]:
        out = [("view", self.view)]
        if self.kind != "frequency":
            out.append(("kind", self.kind))
        if self.touches:
            out.append(("touches", "1"))
        if self.acts is not None:
            out.append(("acts", str(self.acts)))
        if self.paths != DEFAULT_MAX_EDGES:
            out.append(("paths", str(self.paths)))
        if self.view == "cases":
            if self.sort != "started":
                out.append(("sort", self.sort))
            if self.page:
                out.append(("page", str(self.page)))
        if self.view == "case" and self.case:
            out.append(("case", self.case))
        return out


def _int(text: str | None, name: str, low: int, high: int) -> int | None:
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, got {text[:40]!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be from {low} to {high}, got {value}")
    return value


def parse_state(items: list[tuple[str, str]]) -> tuple[State, flt.Filters, flt.Filters]:
    """The view, filter set A (unprefixed) and filter set B (b_, the compare view's) of an
    address's parameters; anything else is refused."""
    b_names = [f"b_{name}" for name in flt.FILTER_PARAMETERS]
    a = flt.parse(items, "", allowed=(*VIEW_PARAMETERS, *b_names))
    b = flt.parse(items, "b_")
    one: dict[str, str] = {}
    for key, value in items:
        if key in VIEW_PARAMETERS:
            if key in one:
                raise BadRequest(f"{key} is given twice; give it once")
            one[key] = value
    view = one.get("view") or "map"
    if view not in VIEWS:
        raise BadRequest(f"view must be one of {', '.join(VIEWS)}, got {view[:40]!r}")
    kind = one.get("kind") or "frequency"
    if kind not in KINDS:
        raise BadRequest(f"kind must be frequency or performance, got {kind[:40]!r}")
    touches = one.get("touches") or "0"
    if touches not in ("0", "1"):
        raise BadRequest(f"touches must be 0 or 1, got {touches[:40]!r}")
    sort = one.get("sort") or "started"
    if sort not in queries.CASE_SORTS:
        raise BadRequest(f"sort must be one of {', '.join(queries.CASE_SORTS)}, got {sort[:40]!r}")
    case = one.get("case") or None
    if view == "case" and not case:
        raise BadRequest("the case view needs case=<case id>")
    state = State(
        view=view,
        kind=kind,
        touches=touches == "1",
        acts=_int(one.get("acts"), "acts", 1, 10_000),
        paths=_int(one.get("paths"), "paths", 1, 10_000) or DEFAULT_MAX_EDGES,
        sort=sort,
        page=_int(one.get("page"), "page", 0, 1_000_000) or 0,
        case=case,
    )
    return state, a, b


def href(state: State, a: flt.Filters, b: flt.Filters | None = None, **changes) -> str:
    """The address of a state and its filters."""
    state = replace(state, **changes)
    params = state.params() + flt.to_params(a)
    if b is not None and state.view == "compare":
        params += flt.to_params(b, "b_")
    return "/?" + urlencode(params)


def _environment():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["count"] = lambda v: "—" if v is None else f"{v:,}"
    env.filters["days"] = lambda v: "—" if v is None else f"{v:,.1f} d"
    env.filters["pct"] = lambda v: "—" if v is None else f"{v:.1%}"
    env.filters["hours"] = lambda v: "—" if v is None else hours_text(v)
    env.filters["when"] = lambda v: "—" if v is None else v.strftime("%Y-%m-%d %H:%M")
    env.filters["num"] = lambda v, d=1: "—" if v is None else f"{v:,.{d}f}"
    env.filters["attr_format"] = lambda v, fmt: env.filters[fmt](v)
    return env


class Explorer:
    """The app over one analytics source; `token` set: every request must carry it."""

    def __init__(self, source: AnalyticsSource, token: str | None = None, loopback: bool = True):
        self.source = source
        self.token = token
        self.loopback = loopback
        self.env = _environment()
        self.app = Starlette(
            routes=[
                Route("/", self.page),
                Route("/export.csv", self.export),
                Route("/export.xes", self.export),
                Route("/favicon.ico", lambda request: Response(status_code=204)),
                Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
            ],
            exception_handlers={Exception: self._failed},
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope) -> Response | None:
        request = Request(scope)
        if self.loopback:
            host = (request.headers.get("host") or "").rsplit(":", 1)[0].strip("[]")
            if request.headers.get("host", "").startswith("[") and "]" in request.headers["host"]:
                host = request.headers["host"][1 : request.headers["host"].index("]")]
            if host not in LOOPBACK_HOSTS:
                return PlainTextResponse(
                    "this explorer answers only addresses of the loopback (127.0.0.1, "
                    "localhost); see the README for a reverse proxy\n",
                    status_code=400,
                )
        if self.token is None:
            return None
        given = request.query_params.get("token")
        if given is not None and hmac.compare_digest(given.encode(), self.token.encode()):
            # Once from the address, then from a cookie: the token leaves the address bar.
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            response = RedirectResponse(
                request.url.path + ("?" + urlencode(rest) if rest else ""), status_code=303
            )
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
            return response
        carried = request.cookies.get(COOKIE) or ""
        bearer = request.headers.get("authorization", "")
        if bearer.lower().startswith("bearer "):
            carried = carried or bearer[7:].strip()
        if carried and hmac.compare_digest(carried.encode(), self.token.encode()):
            return None
        return PlainTextResponse(
            "this explorer needs its token: open the address it printed when it started "
            "(.../?token=...), or send Authorization: Bearer <token>\n",
            status_code=401,
        )

    async def _failed(self, request: Request, error: Exception) -> Response:
        log.exception("the explorer failed on %s", request.url.path)
        return PlainTextResponse(
            "the explorer failed on this request (the details are in its log)\n", status_code=500
        )

    def _bad(self, message: str) -> Response:
        page = self.env.get_template("error.html.j2").render(message=message)
        return HTMLResponse(page, status_code=400)

    def _parse(self, request: Request):
        query = request.url.query
        if len(query) > MAX_QUERY_CHARACTERS:
            raise BadRequest(
                f"the address is {len(query):,} characters long; at most "
                f"{MAX_QUERY_CHARACTERS:,} are accepted"
            )
        return parse_state(request.query_params.multi_items())

    async def page(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        try:
            state, a, b = self._parse(request)
            return await run_in_threadpool(self._render, state, a, b)
        except (BadRequest, flt.FilterError) as error:
            return self._bad(str(error))

    async def export(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        fmt = request.url.path.rsplit(".", 1)[-1]
        try:
            state, a, _ = self._parse(request)
            return await run_in_threadpool(self._export, fmt, a)
        except (BadRequest, flt.FilterError) as error:
            return PlainTextResponse(f"{error}\n", status_code=400)

    def _export(self, fmt: str, a: flt.Filters) -> Response:
        from ..outputs.exports import export_csv, export_xes

        with self.source.cursor() as (generation, cur):
            selection = queries.select_cases(cur, a)
            cur.execute(
                f"CREATE OR REPLACE TEMP TABLE export_cases AS SELECT c.case_id FROM {flt.P}.cases AS c "
                f"WHERE {selection.where}",
                selection.params,
            )
            folder = Path(tempfile.mkdtemp(prefix="export-", dir=generation.temp_dir))
            path = folder / f"event_log.{fmt}"
            if fmt == "xes":
                events = cur.execute(
                    f"SELECT coalesce(sum(events), 0) FROM {flt.P}.cases AS c WHERE {selection.where}",
                    selection.params,
                ).fetchone()[0]
                if events > MAX_XES_EVENTS:
                    raise BadRequest(
                        f"the filtered log has {events:,} events; XES from the page takes at most "
                        f"{MAX_XES_EVENTS:,}: filter further, take CSV, or run `l2c export`"
                    )
                export_xes(cur, path, cases="export_cases")
            else:
                export_csv(cur, path, cases="export_cases")
        import shutil

        return FileResponse(
            path,
            filename=path.name,
            media_type="text/csv" if fmt == "csv" else "application/xml",
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        )

    def _render(self, state: State, a: flt.Filters, b: flt.Filters) -> Response:
        with self.source.cursor() as (generation, cur):
            cache = generation.cache
            if "values" not in cache:
                cache["values"] = queries.attribute_values(cur)
                cache["activities"] = queries.activity_names(cur)
                cache["rules"] = queries.rules(cur)
            values, activities = cache["values"], cache["activities"]
            selection = queries.select_cases(cur, a)
            headline = queries.kpis(cur, selection)
            cases_a = headline["cases"]
            context = {
                "state": state,
                "filters": a,
                "filters_b": b,
                "generation": generation,
                "published": datetime.fromtimestamp(generation.published_at, UTC).strftime(
                    "%Y-%m-%d %H:%M:%S UTC"
                ),
                "source_error": self.source.last_error,
                "values": values,
                "activities": activities,
                "rules": cache["rules"],
                "cases_selected": cases_a,
                "selection": selection,
                "kpis": headline,
                "tabs": [
                    (view, label, href(state, a, b, view=view, page=0))
                    for view, label in (
                        ("map", "Process map"),
                        ("stats", "Statistics"),
                        ("variants", "Variants"),
                        ("cases", "Cases"),
                        ("questions", "Questions"),
                        ("compare", "Compare"),
                    )
                ],
                "chips": self._chips(cur, state, a, b, "a"),
                "chips_b": self._chips(cur, state, a, b, "b") if state.view == "compare" else [],
                "export_csv": "/export.csv?" + urlencode(flt.to_params(a)),
                "export_xes": "/export.xes?" + urlencode(flt.to_params(a)),
                "href": lambda **changes: href(state, a, b, **changes),
                "duration_label": duration_label,
            }
            view = getattr(self, f"_view_{state.view}")(cur, state, a, b, context)
            if isinstance(view, Response):
                return view
            context |= view
        page = self.env.get_template("page.html.j2").render(**context)
        return HTMLResponse(page, headers=_SECURITY_HEADERS)

    def _chips(self, cur, state, a, b, which: str) -> list[dict]:
        chosen = a if which == "a" else b
        labels = {}
        if chosen.variants:
            for key, rank, names in cur.execute(
                f"SELECT key, variant_idx, activities FROM {flt.P}.variants "
                f"WHERE key IN ({', '.join('?' * len(chosen.variants))})",
                list(chosen.variants),
            ).fetchall():
                labels[key] = f"#{rank}: {names[0]} … {names[-1]} ({len(names)} events)"
        chips = []
        for what, text, (parameter, value) in chosen.chips():
            less = flt.without(chosen, parameter, value)
            link = href(state, less, b) if which == "a" else href(state, a, less)
            chips.append({"what": what, "text": labels.get(text, text), "remove": link})
        return chips

    # Views: each returns what its part of the page shows.

    def _map(self, cur, state: State, selection, suffix: str = "") -> dict:
        performance = state.kind == "performance"
        tables = queries.map_tables(cur, selection, state.touches, performance, suffix)
        total_activities = queries.keep_activities(cur, *tables, state.acts)
        counts = queries.map_counts(cur, tables)
        drawn = queries.draw(cur, tables, performance, state.paths)
        return {
            "svg": queries.svg_of(drawn.dot) if counts["nodes"] else "",
            "edges_shown": drawn.edges_shown,
            "edges_total": drawn.edges_total,
            "activities_total": total_activities,
            "activities_shown": len(counts["nodes"]),
            "slowest": drawn.slowest,
            # Inside a <script> element: no "<" may close it.
            "data": json.dumps(counts, default=str).replace("<", "\\u003c"),
            "tables": tables,
        }

    def _view_map(self, cur, state, a, b, context) -> dict:
        selection = context["selection"]
        return {"map": self._map(cur, state, selection)}

    def _view_stats(self, cur, state, a, b, context) -> dict:
        stats = queries.statistics(cur, context["selection"])
        most = max((d["cases"] for d in stats["durations"]), default=0) or 1
        for band in stats["durations"]:
            band["width"] = 100 * band["cases"] / most
        return {"stats": stats}

    def _view_variants(self, cur, state, a, b, context) -> dict:
        listed = queries.variants(cur, context["selection"])
        for variant in listed["variants"]:
            variant["filter"] = href(
                state, replace(a, variants=(*a.variants, variant["key"])), b, view="map"
            )
        return {"variants": listed}

    def _view_cases(self, cur, state, a, b, context) -> dict:
        listed = queries.cases(cur, state.sort, state.page, context["selection"])
        for case in listed:
            case["link"] = href(state, a, b, view="case", case=case["case_id"])
        sorts = {key: href(state, a, b, sort=key, page=0) for key in queries.CASE_SORTS}
        pages = math.ceil(context["cases_selected"] / queries.CASES_PAGE)
        return {
            "cases": listed,
            "sorts": sorts,
            "pages": pages,
            "previous": href(state, a, b, page=state.page - 1) if state.page > 0 else None,
            "next": href(state, a, b, page=state.page + 1) if state.page + 1 < pages else None,
        }

    def _view_case(self, cur, state, a, b, context):
        detail = queries.case_detail(cur, state.case)
        if detail is None:
            return self._bad(f"no case {state.case[:60]!r} in the published file")
        return {"case": detail, "back": href(state, a, b, view="cases", case=None)}

    def _view_questions(self, cur, state, a, b, context) -> dict:
        if a.empty:
            cache = context["generation"].cache
            if "report_answers" not in cache:
                cache["report_answers"] = questions.report_answers(cur)
            found = cache["report_answers"]
            source = "the report tables (whole log)"
        else:
            found = questions.filtered_answers(cur, context["selection"].table(cur))
            source = f"the {context['cases_selected']:,} filtered cases"
        activities = set(context["activities"])
        listed = []
        for question, title in QUESTIONS:
            params = questions.preset(question, activities, context["values"])
            listed.append(
                {
                    "id": question,
                    "title": title,
                    "answers": found.get(question, []),
                    "link": "/?" + urlencode(params),
                }
            )
        return {"questions": listed, "answers_from": source}

    def _view_compare(self, cur, state, a, b, context) -> dict:
        selection, selection_b = context["selection"], queries.select_cases(cur, b, "fc_b")
        map_a = self._map(cur, state, selection, "_a")
        map_b = self._map(cur, state, selection_b, "_b")
        kpis_b = queries.kpis(cur, selection_b)
        return {
            "kpis_b": kpis_b,
            "map": map_a,
            "map_b": map_b,
            "differences": queries.compare_edges(
                cur, map_a["tables"], map_b["tables"], context["cases_selected"], kpis_b["cases"]
            ),
        }


_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def make_app(analytics: Path, host: str = "127.0.0.1", token: str | None = None) -> Explorer:
    """The explorer over the analytics file; off the loopback it requires `token`."""
    loopback = is_loopback(host)
    if not loopback and not token:
        raise ValueError("an explorer bound off the loopback needs a token")
    return Explorer(
        AnalyticsSource(analytics), token=None if loopback else token, loopback=loopback
    )
