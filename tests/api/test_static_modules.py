"""The pages' scripts are native ES modules served as they are (docs/frontend.md): every one
with a JavaScript MIME type (a browser refuses a module otherwise, and ``nosniff`` forbids
guessing), every import naming a file that is there, every page loading its modules from
'self' under a CSP that allows them and no inline script."""
from __future__ import annotations

import re

import pytest

from api.main import STATIC_DIR

MODULES = sorted(p.name for p in STATIC_DIR.glob("*.js"))
IMPORT = re.compile(r'^import\s+(?:[^"\']+\s+from\s+)?["\'](\./[^"\']+)["\'];', re.M)
PAGES = ["/", "/policy-check", "/login", "/account/password", "/console", "/editor",
         "/dashboard"]


@pytest.mark.parametrize("name", MODULES)
def test_each_script_is_served_as_javascript(client, name):
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] in ("text/javascript",
                                                                 "application/javascript")
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("name", MODULES)
def test_each_import_names_a_module_that_is_there(name):
    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    for target in IMPORT.findall(text):
        assert (STATIC_DIR / target).is_file(), f"{name} imports {target}, which is missing"
    # The pages' modules share nothing through globals any more.
    assert "XB." not in text and "document.currentScript" not in text


@pytest.mark.parametrize("path", PAGES)
def test_pages_load_their_modules_from_self(client, path):
    page = client.get(path)
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src" not in csp  # 'self' covers modules
    scripts = re.findall(r"<script\b[^>]*>", page.text)
    # url_for writes the page's own origin (http://testserver here).
    assert scripts and all(re.search(r'src="(http://testserver)?/(static|vendor)/', s)
                           for s in scripts)
    modules = [s for s in scripts if 'type="module"' in s]
    assert len(modules) == 1, scripts  # one entry module a page; it imports the rest
    name = re.search(r'/static/([^"]+)"', modules[0]).group(1)
    assert name in MODULES
