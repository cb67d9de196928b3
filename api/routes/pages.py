"""The web pages: the portal chat (/), its 政策体检 form (/policy-check), 我的政策 for a
signed-in enterprise (/my-policies), the helper console (/console), the knowledge editors'
workbench (/editor), the supervisors' dashboard (/dashboard) and the staff login (/login).

Pages are static shells: all data arrives through the JSON and WebSocket APIs and is
inserted with ``textContent``, so nothing a user or helper types can become markup.
"""
from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from api.deps import ServicesDep, ensure_visitor
from api.errors import ApiError
from api.web_security import safe_next_path
from xiaobao.settings import REPO_ROOT

router = APIRouter(tags=["pages"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
CHART_JS = REPO_ROOT / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js"


def _page(request: Request, services: ServicesDep, name: str, **context: str) -> Response:
    """A page's shell. It carries the centre's time zone: the pages' default days (today, the
    last 30) are the centre's calendar days, as the API counts them, whatever the browser's."""
    return templates.TemplateResponse(request, f"{name}.html", {
        "page": name, "timezone": services.config.hours.timezone, **context})


@router.get("/", response_class=HTMLResponse)
def portal(request: Request, services: ServicesDep) -> Response:
    """The chat; in kiosk mode the page ends an idle conversation itself (``idle_s``)."""
    settings = services.settings
    response = _page(request, services, "portal",
                     idle_s=str(settings.visitor_idle_s) if settings.kiosk_mode else "")
    ensure_visitor(request, response, services)
    return response


@router.get("/policy-check", response_class=HTMLResponse)
def policy_check_page(request: Request, services: ServicesDep) -> Response:
    """政策体检 as a form: the answers stay in the page, each change is checked again by the
    public ``POST /api/policy-check``."""
    return _page(request, services, "policy_check")


@router.get("/my-policies", response_class=HTMLResponse)
def my_policies_page(request: Request, services: ServicesDep) -> Response:
    """我的政策 for the enterprise signed in on this browser; the page reads
    ``GET /api/enterprise/policies``, which answers 401 (and the page shows 企业登录) when
    nobody is."""
    return _page(request, services, "my_policies")


@router.get("/notifications/opt-out")
def opt_out_page() -> Response:
    """The link every 站内信 ends with: 我的政策's 退订 (after 企业登录 when nobody is signed
    in: who opts out is the signed-in enterprise, never a code in the link)."""
    return RedirectResponse("/my-policies#mp-optout-title", status_code=303)


@router.get("/console", response_class=HTMLResponse)
def console(request: Request, services: ServicesDep) -> Response:
    return _page(request, services, "console")


@router.get("/editor", response_class=HTMLResponse)
def editor(request: Request, services: ServicesDep) -> Response:
    """The knowledge editors' workbench; who may use it is checked by the JSON API it calls."""
    return _page(request, services, "editor")


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, services: ServicesDep) -> Response:
    """The supervisors' dashboard; who may use it is checked by the JSON API it calls."""
    return _page(request, services, "dashboard")


@router.get("/register", response_class=HTMLResponse)
def register_page(request: Request, services: ServicesDep) -> Response:
    """企业档案 for registrars and supervisors; the JSON API checks who may read what. The
    sources and the fields' labels travel in data attributes (the CSP allows no inline
    script)."""
    from enterprises.sources import known_sources
    from policies.fields import default_dictionary

    labels = {f.name: f.label for f in default_dictionary().fields.values()}
    return _page(request, services, "register",
                 sources=json.dumps(list(known_sources(services.settings)), ensure_ascii=False),
                 labels=json.dumps(labels, ensure_ascii=False))


@router.get("/vendor/chart.umd.min.js")
def chart_js() -> Response:
    """Chart.js from npm (``node_modules``, installed by ``make setup``), served by the gateway:
    the pages load no script from elsewhere (CSP ``default-src 'self'``). Without it the
    dashboard shows its tables only."""
    if not CHART_JS.is_file():
        raise ApiError(404, "not_found", "图表库未安装（npm ci） / Chart library not installed")
    return FileResponse(CHART_JS, media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, services: ServicesDep) -> Response:
    """Where to go after logging in (``?next=``) is decided here, by the one rule
    (:func:`api.web_security.safe_next_path`): the page only follows it."""
    target = safe_next_path(request.query_params.get("next"))
    return _page(request, services, "login", next=target)


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, services: ServicesDep) -> Response:
    """Staff change their own password here (``POST /api/auth/password``); signed out, the
    page's form answers with the API's 401 and links to the login."""
    return _page(request, services, "password")
