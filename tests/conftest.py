"""Shared fixtures: no network, a deterministic fake embedder."""

from __future__ import annotations

import socket

import pytest

from index.embed import FakeEmbedder


class NetworkBlocked(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def _no_network(monkeypatch, request):
    """Fail any test that opens a network connection (loopback is allowed for
    the browser test, which talks to its own local Streamlit server)."""

    real_connect = socket.socket.connect

    def guarded_connect(self, address, *args, **kwargs):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and (host in ("localhost", "::1") or host.startswith("127.")):
            return real_connect(self, address, *args, **kwargs)
        if self.family == getattr(socket, "AF_UNIX", None):
            return real_connect(self, address, *args, **kwargs)
        raise NetworkBlocked(f"test tried to open a network connection to {address!r}")

    # socket.create_connection and every HTTP client go through socket.connect.
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    yield


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()
