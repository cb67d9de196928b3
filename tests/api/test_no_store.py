"""No browser or proxy cache keeps an answer that may carry personal data (security issue 20):
``Cache-Control: no-store`` on every API answer and page; static files stay cacheable."""
from __future__ import annotations


def test_api_answers_and_pages_are_not_stored(login):
    helper = login(roles=["helper", "supervisor"])
    for path in ("/api/helper/me", "/api/helper/tickets", "/api/helper/left-messages",
                 "/api/helper/tickets/no-such-ticket", "/console", "/"):
        response = helper.get(path)
        assert response.headers.get("cache-control") == "no-store", (path, response.status_code)

    # Static files carry no personal data and may be cached.
    assert helper.get("/static/does-not-exist.css").headers.get("cache-control") != "no-store"
