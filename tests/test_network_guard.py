import socket

import pytest

from tests.conftest import NetworkBlocked


def test_outside_connection_fails():
    with pytest.raises(NetworkBlocked, match="network connection"):
        socket.create_connection(("203.0.113.1", 80), timeout=1)
