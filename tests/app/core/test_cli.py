"""`gatescope serve`: flags, environment, and what it hands to uvicorn."""

from __future__ import annotations

import os
import threading

import pytest
import uvicorn

from app.core import cli
from app.core.settings import Settings


@pytest.fixture
def uvicorn_calls(monkeypatch):
    """uvicorn.run recorded, not run; GATESCOPE_* variables (which `serve` sets for its
    workers) restored afterwards."""
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    saved = {k: v for k, v in os.environ.items() if k.startswith("GATESCOPE_")}
    for name in saved:
        del os.environ[name]
    yield calls
    for name in [k for k in os.environ if k.startswith("GATESCOPE_")]:
        del os.environ[name]
    os.environ.update(saved)


def test_serve_defaults_to_loopback(uvicorn_calls, monkeypatch):
    assert cli.main(["serve"]) == 0
    (args, kwargs), = uvicorn_calls
    assert args == ("app.core.factory:create_app",) and kwargs["factory"] is True
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("127.0.0.1", 8000, 1)
    assert kwargs["ws_max_size"] == 64 * 1024


def test_flags_reach_the_workers_through_the_environment(uvicorn_calls, tmp_path, monkeypatch):
    monkeypatch.setenv("GATESCOPE_MAX_HIDDEN_SIZE", "64")
    assert cli.main(["serve", "--host", "127.0.0.2", "--port", "9123", "--data-dir",
                     str(tmp_path), "--workers", "2"]) == 0
    (_, kwargs), = uvicorn_calls
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("127.0.0.2", 9123, 2)
    settings = Settings.from_env()  # what create_app() builds in each worker
    assert (settings.host, settings.port, settings.data_dir) == ("127.0.0.2", 9123, tmp_path)
    assert settings.max_hidden_size == 64


def test_non_loopback_host_warns(uvicorn_calls, capsys):
    cli.main(["serve", "--host", "0.0.0.0"])
    assert "reachable from other machines" in capsys.readouterr().err


def test_bad_values_are_refused(uvicorn_calls, monkeypatch, capsys):
    assert cli.main(["serve", "--port", "70000"]) == 2
    monkeypatch.setenv("GATESCOPE_MAX_STEPS", "lots")
    assert cli.main(["serve"]) == 2
    assert "GATESCOPE_MAX_STEPS" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["serve", "--port", "eighty"])
    with pytest.raises(SystemExit):
        cli.main([])
    assert uvicorn_calls == []


def test_open_starts_a_browser_thread(uvicorn_calls, monkeypatch):
    started, called = [], threading.Event()

    def open_when_ready(settings, url):
        started.append(url)
        called.set()

    monkeypatch.setattr(cli, "_open_when_ready", open_when_ready)
    cli.main(["serve", "--open", "--port", "8765"])
    assert called.wait(timeout=60), "the browser thread did not run"
    assert started == ["http://127.0.0.1:8765/"]


def test_help(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["serve", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--host", "--port", "--data-dir", "--open"):
        assert flag in out


def test_off_loopback_a_token_is_made_and_printed(uvicorn_calls, tmp_path, capsys):
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "8123",
                     "--data-dir", str(tmp_path)]) == 0
    token = os.environ["GATESCOPE_TOKEN"]
    assert len(token) >= 24
    assert f"http://127.0.0.1:8123/?token={token}" in capsys.readouterr().err
    assert Settings.from_env().token == token  # every worker requires it
    assert uvicorn_calls[0][1]["http"] == "app.core.connections:GuardedHttpProtocol"


def test_no_token_is_loud_and_loopback_needs_none(uvicorn_calls, tmp_path, capsys):
    cli.main(["serve", "--host", "0.0.0.0", "--no-token", "--data-dir", str(tmp_path)])
    assert "WITHOUT A TOKEN" in capsys.readouterr().err
    assert Settings.from_env().token == ""
    assert Settings.from_env().allow_no_token  # so the factory in each worker serves
    for name in [k for k in os.environ if k.startswith("GATESCOPE_")]:
        del os.environ[name]  # a fresh shell
    cli.main(["serve", "--data-dir", str(tmp_path)])
    assert Settings.from_env().token == ""
    assert "?token=" not in capsys.readouterr().err


def test_given_token_and_allowed_hosts(uvicorn_calls, tmp_path):
    cli.main(["serve", "--host", "0.0.0.0", "--token", "s3cret-s3cret", "--allowed-hosts",
              "box.lan, viz.example", "--data-dir", str(tmp_path)])
    settings = Settings.from_env()
    assert settings.token == "s3cret-s3cret"
    assert settings.allowed_hosts == ("box.lan", "viz.example")


def test_an_unusable_data_dir_is_refused_at_start(uvicorn_calls, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert cli.main(["serve", "--data-dir", str(blocker / "data")]) == 2
    err = capsys.readouterr().err
    assert "data directory" in err and "not usable" in err and "--data-dir" in err
    assert uvicorn_calls == []
