"""The agent as a systemd service (Type=notify): it tells systemd READY=1 once it runs —
even with its controller unreachable, since it keeps enforcing what it has — and
STOPPING=1 on SIGTERM, then exits 0. It runs in a network namespace of the test's own
making, where its controller URL (the namespace's loopback) answers nothing and the
kernel cannot create its links: what is checked here is the service contract; the kernel
and IKE planes are checked in user-mode Linux (tests/kernel, tests/ike, tests/e2e)."""
import os
import socket
import subprocess
import time

import pytest

from conftest import BUILD, free_port

AGENT = os.path.join(BUILD, "gresec-agent")


@pytest.fixture
def netns():
    name = "gresec-it-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
    yield name
    subprocess.run(["ip", "netns", "del", name], check=False)


def recv_until(sock, want, timeout):
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        seen.append(msg)
        if want in msg.split("\n"):
            return seen
    raise AssertionError("no %s from the agent within %ss; got %r" % (want, timeout, seen))


def test_agent_notifies_systemd_and_stops_cleanly(tmp_path, netns):
    token = tmp_path / "agent.token"
    token.write_text("gst_" + "0" * 64 + "\n")
    os.chmod(token, 0o600)
    notify = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(notify)
    log = open(tmp_path / "agent.log", "wb")
    proc = subprocess.Popen(["ip", "netns", "exec", netns, AGENT, "--controller",
                             "http://127.0.0.1:%d" % free_port(), "--site", "b1",
                             "--token-file", str(token), "--state-dir", str(tmp_path / "state"),
                             "--vici", str(tmp_path / "no-charon.vici"), "--resync", "1",
                             "--insecure-http"],
                            env=dict(os.environ, NOTIFY_SOCKET=notify), stdout=log, stderr=log)
    try:
        recv_until(sock, "READY=1", 20)
        time.sleep(0.3)     # its client is retrying the unreachable controller by now
        proc.terminate()
        # SIGTERM reaches the daemon's loop through its signalfd: a clean exit.
        assert proc.wait(timeout=10) == 0, open(tmp_path / "agent.log").read()
        recv_until(sock, "STOPPING=1", 5)
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
