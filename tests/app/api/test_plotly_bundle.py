"""The page's plotly.js: the vendored cartesian bundle, served from the checkout (no
internet, no other package) and cached by the browser."""

from __future__ import annotations

from app.api.pages import PLOTLY_JS


def test_the_page_loads_the_vendored_plotly_bundle(client):
    page = client.get("/")
    assert 'src="/static/vendor/plotly.min.js"' in page.text
    served = client.get("/static/vendor/plotly.min.js")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/javascript")
    assert "max-age=" in served.headers["cache-control"]
    assert served.content == PLOTLY_JS.read_bytes()
    assert served.content.startswith(b"/**\n* plotly.js (cartesian - minified)")
