"""Who may frame the page: nobody by default; the origins in Settings.frame_ancestors (a
server app.show starts names loopback notebook origins) through CSP frame-ancestors."""

from __future__ import annotations

import pytest

from app.core.settings import Settings


def test_nobody_frames_the_page_by_default(make_client):
    client = make_client()
    for path in ("/", "/api/presets"):
        answer = client.get(path)
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert client.get("/api/presets").headers["x-frame-options"] == "DENY"


def test_named_origins_may_frame_it(make_client):
    client = make_client(frame_ancestors=("http://localhost:*", "http://127.0.0.1:8888"))
    for path in ("/", "/api/presets", "/api/sessions/missing"):
        answer = client.get(path)
        (policy,) = answer.headers.get_list("content-security-policy")
        assert "frame-ancestors http://localhost:* http://127.0.0.1:8888;" in policy
        assert "x-frame-options" not in answer.headers


@pytest.mark.parametrize("origin", ["*", "http://a.b; script-src *", "'self'", "file://x"])
def test_only_origins_are_taken(tmp_path, origin):
    with pytest.raises(ValueError, match=r"setting frame_ancestors takes origins such as "
                                         r"http://localhost:\*"):
        Settings.from_env({"GATESCOPE_FRAME_ANCESTORS": origin}, data_dir=tmp_path)
