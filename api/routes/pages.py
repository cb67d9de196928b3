"""The web pages: the portal chat (/), the helper console (/console), the knowledge editors'
workbench (/editor), the supervisors' dashboard (/dashboard) and the staff login (/login).

Pages are static shells: all data arrives through the JSON and WebSocket APIs and is
inserted with ``textContent``, so nothing a user or helper types can become markup.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from api.deps import SettingsDep, ensure_visitor
from api.errors import ApiError
from api.web_security import safe_next_path
from xiaobao.settings import REPO_ROOT

router = APIRouter(tags=["pages"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
CHART_JS = REPO_ROOT / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js"


@router.get("/", response_class=HTMLResponse)
def portal(request: Request, settings: SettingsDep) -> Response:
    response = templates.TemplateResponse(request, "portal.html", {"page": "portal"})
    ensure_visitor(request, response, settings)
    return response


@router.get("/console", response_class=HTMLResponse)
def console(request: Request) -> Response:
    return templates.TemplateResponse(request, "console.html", {"page": "console"})


@router.get("/editor", response_class=HTMLResponse)
def editor(request: Request) -> Response:
    """The knowledge editors' workbench; who may use it is checked by the JSON API it calls."""
    return templates.TemplateResponse(request, "editor.html", {"page": "editor"})


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request) -> Response:
    """The supervisors' dashboard; who may use it is checked by the JSON API it calls."""
    return templates.TemplateResponse(request, "dashboard.html", {"page": "dashboard"})


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
def login_page(request: Request) -> Response:
    """Where to go after logging in (``?next=``) is decided here, by the one rule
    (:func:`api.web_security.safe_next_path`): the page only follows it."""
    target = safe_next_path(request.query_params.get("next"))
    return templates.TemplateResponse(request, "login.html", {"page": "login", "next": target})
