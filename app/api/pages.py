"""The page: `GET /` renders templates/index.html; `mount_static` serves static/ and plotly.js.

The page is a static shell: every setting is read from the URL by static/js/url_state.js,
and every number comes from the API and the WebSocket. Nothing is loaded from the internet:
plotly.js is plotly's own cartesian bundle, kept in static/vendor/plotly/ (its README says
where it comes from and why not the full bundle).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.api.middleware import page_policy

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"
PLOTLY_JS = STATIC_DIR / "vendor" / "plotly" / "plotly-cartesian.min.js"

_templates = Environment(
    loader=FileSystemLoader(str(TEMPLATES_DIR)),
    autoescape=select_autoescape(default=True, default_for_string=True),
)

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index(request: Request) -> HTMLResponse:
    """The page shell; the view itself is a function of the URL's query string."""
    html = _templates.get_template("index.html").render(
        static_url="/static", plotly_url="/static/vendor/plotly.min.js"
    )
    return HTMLResponse(
        html,
        headers={
            # the middleware's policy, with the origins that may frame the page
            "Content-Security-Policy": page_policy(request.app.state.settings.frame_ancestors),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store",
        },
    )


def _plotly_js() -> FileResponse:
    return FileResponse(
        PLOTLY_JS,
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def mount_static(app: FastAPI) -> None:
    """Serve /static from static/ and /static/vendor/plotly.min.js (cached for a day).

    The plotly route is added before the mount so that it wins the match.
    """
    app.add_api_route(
        "/static/vendor/plotly.min.js", _plotly_js, methods=["GET"], include_in_schema=False
    )
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
