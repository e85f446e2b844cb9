"""``ocais serve`` listens where ``OCAIS_SERVE_HOST`` / ``OCAIS_SERVE_PORT`` say (flags win)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cli.conftest import Cli

UvicornCalls = list[tuple[Any, dict[str, Any]]]


def test_serve_port_and_host_from_the_environment(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, uvicorn_calls: UvicornCalls
) -> None:
    monkeypatch.setenv("OCAIS_SERVE_PORT", "8765")
    monkeypatch.setenv("OCAIS_SERVE_HOST", "127.0.0.2")
    result = cli("serve")
    assert result.exit_code == 0, result.output
    assert (uvicorn_calls[-1][1]["host"], uvicorn_calls[-1][1]["port"]) == ("127.0.0.2", 8765)
    assert "http://127.0.0.2:8765/" in result.stdout
    flags = cli("serve", "--port", "9001", "--host", "127.0.0.1")
    assert flags.exit_code == 0, flags.output
    assert (uvicorn_calls[-1][1]["host"], uvicorn_calls[-1][1]["port"]) == ("127.0.0.1", 9001)


def test_a_bad_serve_setting_is_a_clear_error(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, uvicorn_calls: UvicornCalls
) -> None:
    monkeypatch.setenv("OCAIS_SERVE_PORT", "not-a-port")
    result = cli("serve")
    assert result.exit_code == 2 and "OCAIS_SERVE_" in result.stderr
    assert uvicorn_calls == []
