"""The Streamlit server listens on this machine only unless an administrator chooses otherwise."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run_command(**make_vars: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PROTOCOL_QA_ADDRESS", "PROTOCOL_QA_PORT", "MAKEFLAGS")}
    dry = subprocess.run(["make", "-n", "run", *(f"{k}={v}" for k, v in make_vars.items())], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    lines = [line for line in dry.stdout.splitlines() if "streamlit run app.py" in line]
    assert len(lines) == 1, dry.stdout
    return shlex.split(lines[0])


def test_config_binds_to_localhost():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["address"] == "localhost"
    assert config["server"]["enableXsrfProtection"] is True
    assert config["browser"]["gatherUsageStats"] is False
    # Watching the project folder filled the log with "Inotify queue overflowed" during ingests.
    assert config["server"]["fileWatcherType"] == "none"


def test_make_run_passes_localhost_by_default():
    args = _run_command()
    assert args[args.index("--server.address") + 1] == "localhost"


def test_make_run_address_is_an_explicit_choice():
    args = _run_command(PROTOCOL_QA_ADDRESS="0.0.0.0")
    assert args[args.index("--server.address") + 1] == "0.0.0.0"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_running_server_listens_on_loopback_only(tmp_path):
    """Started as an administrator would, without --server.address: the config file decides."""
    import psutil

    port = _free_port()
    env = dict(os.environ, PROTOCOL_QA_INDEX=str(tmp_path / "no-index"), PROTOCOL_QA_ENCODER="fake")
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        listening = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not listening:
            time.sleep(0.3)
            assert server.poll() is None, "streamlit exited"
            process = psutil.Process(server.pid)
            listening = [c.laddr for c in process.net_connections(kind="inet")
                         if c.status == psutil.CONN_LISTEN and c.laddr.port == port]
        assert listening, "streamlit did not start listening"
        assert all(addr.ip in ("127.0.0.1", "::1") for addr in listening), listening
    finally:
        server.terminate()
        server.wait(timeout=30)
