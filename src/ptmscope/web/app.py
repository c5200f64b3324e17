"""The ``ptmscope serve`` application: routes, templates, the security headers, error pages.

Every page has a JSON twin under ``/api`` that returns the same document the page renders
(docs/serve.md). Every response carries a strict Content-Security-Policy (scripts and styles
only from this server, no inline ones, images only from here or ``data:``, no framing, forms
post only here), ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``.
Templates autoescape, and every string from the data loses its control and bidi-override
characters (``reports.safe.strip_controls``). The static assets ship in the package: nothing is
fetched from elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ptmscope import __version__
from ptmscope.checks.model import ATTRIBUTES
from ptmscope.errors import InputError, SnapshotNotFoundError, StoreLockedError
from ptmscope.reports.badges import score_badge
from ptmscope.reports.cyclonedx import audit_bom
from ptmscope.reports.safe import strip_controls
from ptmscope.reports.sarif import audit_sarif
from ptmscope.selection.requirements import FORMATS, LICENSE_POLICIES
from ptmscope.web.access import DEFAULT_PATIENCE
from ptmscope.web.explorer import Explorer
from ptmscope.web.gate import DEFAULT_SLOTS, Gate
from ptmscope.web.query import MAX_TEXT, SORTS, ModelQuery
from ptmscope.web.select_page import form_values

STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


class SecurityHeaders:
    """ASGI middleware: the security headers on every response, error pages and static files included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)


def _environment() -> Environment:
    def finalize(value: Any) -> Any:
        if isinstance(value, str) and not isinstance(value, Markup):
            return strip_controls(value)
        return value

    env = Environment(
        loader=PackageLoader("ptmscope", "web/templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # the package's templates do not change under a running server: no stat per page
        finalize=finalize,
    )
    env.filters["num"] = lambda v: "–" if v is None else f"{v:,}"
    env.filters["score"] = lambda v: "–" if v is None else f"{v:.1f}"
    env.filters["size"] = _size
    env.filters["urlpath"] = lambda v: quote(str(v), safe="/")  # a repo id in a link: bidi characters percent-encoded
    env.filters["badge"] = lambda s, a: Markup(score_badge(a, s))  # noqa: S704 - our own SVG, its text escaped
    env.globals.update(version=__version__, attributes=ATTRIBUTES, sorts=list(SORTS), formats=FORMATS,
                       license_policies=LICENSE_POLICIES)  # fmt: skip
    return env


def _size(value: int | None) -> str:
    if value is None:
        return "–"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{value} B"


def _json(document: Any, status: int = 200) -> Response:
    body = json.dumps(document, default=str, ensure_ascii=False, indent=1)
    return Response(body, status_code=status, media_type="application/json")


class Pages:
    """The route handlers, over one ``Explorer``."""

    def __init__(self, explorer: Explorer) -> None:
        self.explorer = explorer
        self.templates = Jinja2Templates(env=_environment())

    def _page(self, request: Request, template: str, doc: dict[str, Any], status: int = 200) -> Response:
        context = {"doc": doc, "path": request.url.path, "query": request.url.query}
        return self.templates.TemplateResponse(request, template, context, status_code=status)

    def _either(self, request: Request, template: str, doc: dict[str, Any]) -> Response:
        return _json(doc) if request.url.path.startswith("/api/") else self._page(request, template, doc)

    def models(self, request: Request) -> Response:
        query = ModelQuery.from_params(request.query_params.multi_items())
        return self._either(request, "models.html.j2", self.explorer.models(query))

    def model(self, request: Request) -> Response:
        repo_id = request.path_params["repo_id"]
        explain = request.query_params.get("explain") in ("1", "yes", "true")
        doc = self.explorer.model(repo_id, explain=explain)
        if doc is None:
            raise HTTPException(404, f"{repo_id[:200]!r} is not in snapshot {self.explorer.snapshot.name}")
        return self._either(request, "model.html.j2", {**doc, "explained": explain})

    def study(self, request: Request) -> Response:
        other = request.query_params.get("compare", "").strip()[:MAX_TEXT] or None
        try:
            doc = self.explorer.study(other)
        except SnapshotNotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc
        return self._either(request, "study.html.j2", doc)

    def select(self, request: Request) -> Response:
        values = form_values(request.query_params.multi_items())
        return self._either(request, "select.html.j2", self.explorer.select(values))

    def compare(self, request: Request) -> Response:
        repo_ids = [v for k, v in request.query_params.multi_items() if k == "m" and v]
        return self._either(request, "compare.html.j2", self.explorer.compare(repo_ids))

    def badge(self, request: Request) -> Response:
        attribute, repo_id = request.path_params["attribute"], request.path_params["repo_id"]
        doc = self.explorer.model(repo_id) if attribute in ATTRIBUTES else None
        if doc is None:
            raise HTTPException(404, "no such model or attribute")
        return Response(score_badge(attribute, doc["audit"]["scores"][attribute]["score"]), media_type="image/svg+xml")

    def download(self, request: Request) -> Response:
        kind, repo_id = request.path_params["kind"], request.path_params["repo_id"]
        doc = self.explorer.model(repo_id) if kind in ("audit.json", "audit.sarif", "bom.cdx.json") else None
        if doc is None:
            raise HTTPException(404, "no such model or download")
        audit = doc["audit"]
        body = (json.dumps(audit_sarif(audit), indent=1) if kind == "audit.sarif" else audit_bom(audit)
                if kind == "bom.cdx.json" else json.dumps(audit, indent=1, default=str))  # fmt: skip
        name = repo_id.replace("/", "__") + "." + kind
        return Response(body, media_type="application/json",
                        headers={"content-disposition": f'attachment; filename="{name}"'})  # fmt: skip

    def api_index(self, request: Request) -> Response:
        return _json({**self.explorer.header(), "endpoints": API_ENDPOINTS, "docs": "docs/serve.md"})

    async def error(self, request: Request, exc: Exception) -> Response:
        status, message, headers = 500, "internal error", {}
        if isinstance(exc, HTTPException):
            status, message = exc.status_code, str(exc.detail)
        elif isinstance(exc, InputError):
            status, message = 400, str(exc)
        elif isinstance(exc, StoreLockedError):
            status, message, headers = 503, f"the store is busy: {exc}", {"retry-after": "2"}
        if request.url.path.startswith("/api/") or request.url.path.startswith("/download/"):
            response: Response = JSONResponse({"error": message, "status": status}, status_code=status)
        else:
            doc = {**self.explorer.header(), "status": status, "message": message}
            response = self._page(request, "error.html.j2", doc, status)
        response.headers.update(headers)
        return response


API_ENDPOINTS = {
    "/api/models": "search and facets (q, cards, task, library, language, license_class, license, format, flagged, "
    "claims, architecture, dataset, verified, score_<attribute> (0-2, 2-4, 4-6, 6-8, 8-10, none), sort, page, per)",
    "/api/models/{repo_id}": "a model's page: record, audit (explain=1: computed with full evidence), files, "
    "lineage, claims, card",
    "/api/study": "the study and its figures as linked bars (compare=OTHER_SNAPSHOT: another snapshot's beside them)",
    "/api/select": "select's shortlist (task, license, format, min_<attribute>, exclude_unsafe, ...)",
    "/api/compare": "up to four models side by side (m=ID, repeated)",
}


def create_app(
    db_path: Path,
    snapshot: str,
    *,
    allowed_hosts: Sequence[str] | None = None,
    patience: float = DEFAULT_PATIENCE,
    explorer: Explorer | None = None,
    slots: int = DEFAULT_SLOTS,
) -> Starlette:
    """The web app over ``snapshot`` of the store at ``db_path`` (read-only).

    ``allowed_hosts``: Host header values to answer (DNS-rebinding protection; None: any).
    ``slots``: pages computed at once (``web.gate``); the others wait their turn.
    Raises ``SnapshotNotFoundError`` for an unknown snapshot and ``StoreLockedError`` when a writer holds the store.
    """
    pages = Pages(explorer or Explorer(db_path, snapshot, patience=patience))
    gate = Gate(slots)
    routes = [
        Route("/", lambda request: RedirectResponse("/models", status_code=302)),
        *(
            Route(path, gate.guard(handler))
            for path, handler in (
                ("/models", pages.models),
                ("/models/{repo_id:path}", pages.model),
                ("/study", pages.study),
                ("/select", pages.select),
                ("/compare", pages.compare),
                ("/badge/{attribute}/{repo_id:path}", pages.badge),
                ("/download/{kind}/{repo_id:path}", pages.download),
                ("/api", pages.api_index),
                ("/api/models", pages.models),
                ("/api/models/{repo_id:path}", pages.model),
                ("/api/study", pages.study),
                ("/api/select", pages.select),
                ("/api/compare", pages.compare),
            )
        ),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(SecurityHeaders)]
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    handlers = {
        HTTPException: pages.error,
        InputError: pages.error,
        StoreLockedError: pages.error,
        Exception: pages.error,
    }
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)
    app.state.explorer = pages.explorer
    return app
