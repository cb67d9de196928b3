"""The web pages: the portal chat (/), the helper console (/console), the knowledge editors'
workbench (/editor) and the staff login (/login).

Pages are static shells: all data arrives through the JSON and WebSocket APIs and is
inserted with ``textContent``, so nothing a user or helper types can become markup.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.deps import SettingsDep, ensure_visitor
from api.web_security import safe_next_path

router = APIRouter(tags=["pages"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")


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


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    """Where to go after logging in (``?next=``) is decided here, by the one rule
    (:func:`api.web_security.safe_next_path`): the page only follows it."""
    target = safe_next_path(request.query_params.get("next"))
    return templates.TemplateResponse(request, "login.html", {"page": "login", "next": target})
