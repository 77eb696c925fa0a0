"""The daemon agent's controller client runs inside its one poll loop (libcurl multi, no
threads): it takes a new intent as soon as the controller has one (the held long-poll
returns), keeps retrying while the controller is down and picks up once it is back, and
posts its status. The agent runs in a network namespace of the test's own making (its
kernel plane touches nothing of the host); the test reaches into that namespace for one
listening socket on its loopback, and forwards what arrives there to the controller."""
import ctypes
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import BUILD
from test_agent_client import DOC, agent_token
from test_agent_daemon import netns  # noqa: F401 (fixture)

AGENT = os.path.join(BUILD, "gresec-agent")
CLONE_NEWNET = 0x40000000


def listen_in_netns(name):
    """A TCP socket listening on the namespace's 127.0.0.1: sockets keep the namespace
    they were created in, so this thread enters it just for the socket() call."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), "setns")
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            s.listen(16)
        finally:
            if libc.setns(home, CLONE_NEWNET):
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(home)
        os.close(target)
    return s


class Forwarder:
    """Accepts in the namespace, connects to whichever controller is current; with none
    listening the connection is closed at once, as a controller that is down would."""

    def __init__(self, lsock):
        self.lsock = lsock
        self.port = lsock.getsockname()[1]
        self.target = None
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop:
            try:
                a, _ = self.lsock.accept()
            except OSError:
                return
            try:
                b = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except (OSError, TypeError):
                a.close()
                continue
            b.settimeout(None)
            for src, dst in ((a, b), (b, a)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.lsock.close()


def wait_for(what, cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def received_in(log_path, rev):
    """The agent's log says it took revision rev."""
    return "intent revision %d received" % rev in log_path.read_text()


def revision(ctl, name):
    return ctl.get("/v1/agents/%s/intent" % name).json["revision"]


def applied(ctl, name):
    ag = ctl.get("/v1/sites/%s" % name).json["status"]["agent"]
    return ag and ag["applied_revision"]


def threads(pid):
    with open("/proc/%d/status" % pid) as f:
        (n,) = re.findall(r"^Threads:\s+(\d+)$", f.read(), re.M)
    return int(n), len(os.listdir("/proc/%d/task" % pid))


def test_daemon_client_long_polls_retries_and_reports_on_one_thread(
        make_controller, tmp_path, netns):  # noqa: F811
    ctl = make_controller("ctl")
    assert ctl.post("/v1/import", DOC).status == 200
    tok, secret = agent_token(ctl, tmp_path, "b1")
    os.mkdir(str(tmp_path / "state"))
    fwd = Forwarder(listen_in_netns(netns))
    fwd.target = ctl.port
    log_path = tmp_path / "agent.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(["ip", "netns", "exec", netns, AGENT, "--controller",
                             "http://127.0.0.1:%d" % fwd.port, "--site", "b1",
                             "--token-file", tok, "--state-dir", str(tmp_path / "state"),
                             "--vici", str(tmp_path / "no-charon.vici"), "--resync", "1",
                             "--insecure-http"],
                            stdout=log, stderr=log)

    def agent_log():
        return log_path.read_text()

    def received(rev):
        return "intent revision %d received" % rev in agent_log()

    try:
        rev1 = revision(ctl, "b1")
        wait_for("the first intent", lambda: received(rev1), 20)
        wait_for("its status report", lambda: applied(ctl, "b1") == rev1, 20)
        # Connected, its long-poll held by the controller: one thread, one task.
        time.sleep(0.5)
        assert threads(proc.pid) == (1, 1), agent_log()

        # A change reaches the agent well within the 30 s the long-poll is held.
        t0 = time.monotonic()
        r = ctl.patch("/v1/sites/b2", {"prefixes": ["10.1.2.0/24", "10.9.2.0/24"]})
        assert r.status == 200, r
        rev2 = revision(ctl, "b1")
        assert rev2 > rev1
        wait_for("the new intent", lambda: received(rev2), 5)
        assert time.monotonic() - t0 < 5
        wait_for("the new status", lambda: applied(ctl, "b1") == rev2, 10)

        # The controller goes away: the agent backs off and retries, still one thread.
        ctl.stop()
        fwd.target = None
        wait_for("two retries", lambda: len(re.findall(
            r"site b1: controller: .*; retrying in \d+s", agent_log())) >= 2, 20)
        assert "retrying in 1s" in agent_log() and "retrying in 2s" in agent_log()
        assert threads(proc.pid) == (1, 1)
        assert proc.poll() is None, agent_log()

        # Back (same database, another port), with a change made while the agent was
        # away: it picks that up on its next retry and reports it.
        ctl2 = make_controller("ctl2", workdir=tmp_path / "ctl")
        r = ctl2.patch("/v1/sites/b2", {"prefixes": ["10.1.2.0/24"]})
        assert r.status == 200, r
        rev3 = revision(ctl2, "b1")
        assert rev3 > rev2
        fwd.target = ctl2.port
        wait_for("the intent made while it was away", lambda: received(rev3), 40)
        wait_for("the status after the outage", lambda: applied(ctl2, "b1") == rev3, 20)
        assert threads(proc.pid) == (1, 1)

        proc.terminate()
        assert proc.wait(timeout=10) == 0, agent_log()
        text = agent_log()
        assert secret not in text and ctl.admin not in text
    finally:
        if proc.poll() is None:
            proc.kill()
        fwd.close()
        log.close()
