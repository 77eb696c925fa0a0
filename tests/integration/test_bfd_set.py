"""agent/bfd_set.c on real sockets, without user-mode Linux: two network namespaces of
the test's own making joined by a veth pair, one tests/bfd/bfd_pair driver in each with
an IPv4 and an IPv6 session (100 ms x 3). Checked: both ends come Up quickly though
started a second apart; cutting the link takes every session Down by detection time
(not before the cut, not much after); the link back brings them Up again; packets
with a TTL or hop limit other than 255 are dropped and counted by reason; AdminDown
takes the peer Down at once and the removed sessions are freed after their three
AdminDown packets. Needs root (namespaces), as the other namespace tests do."""
import os
import signal
import subprocess
import time

import pytest

from conftest import BUILD

DRIVER = os.path.join(BUILD, "tests", "bfd_pair")
INTERVAL = 0.1
MULT = 3
DETECT = INTERVAL * MULT
SLACK = 3           # x detection time: robust on a loaded 2-core machine under ASan
A4, B4 = "10.77.0.1", "10.77.0.2"
A6, B6 = "fd00:77::1", "fd00:77::2"

SENDER = """
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
if fam == socket.AF_INET:
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, int(sys.argv[2]))
else:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, int(sys.argv[2]))
s.sendto(bytes.fromhex(sys.argv[3]), (sys.argv[1], 3784))
"""
# Version 1, Down, mult 3, length 24, my discr 0x01020304, your discr 0, 1 s, 1 s.
BFD_DOWN = "20400318" "01020304" "00000000" "000f4240" "000f4240" "00000000"
BAD_VERSION = "e0" + BFD_DOWN[2:]


def run(*args):
    subprocess.run(list(args), check=True)


class Driver:
    """One bfd_pair in a namespace; its stdout is a file of timestamped events."""

    def __init__(self, ns, sessions, path):
        self.path = str(path)
        self.out = open(self.path, "wb")
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, DRIVER] + sessions,
                                     stdout=self.out, stderr=subprocess.STDOUT)
        self.wait_for(lambda ev: ev[1] == "ready", 20, "ready")

    def events(self):
        with open(self.path) as f:
            return [line.split() for line in f if line.strip()]

    def wait_for(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            found = [ev for ev in self.events() if pred(ev)]
            if found:
                return found
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("%s: no %s within %ss:\n%s" % (
                    self.path, what, timeout, open(self.path).read()))
            time.sleep(0.02)

    def state_at(self, sid, new, after):
        """The first change of session sid into new at or after monotonic time after."""
        ev = self.wait_for(lambda e: e[1] == "state" and e[2] == sid and e[4] == new
                           and float(e[0]) >= after, 10, "%s %s" % (sid, new))[0]
        return float(ev[0]), ev[5]

    def drops(self):
        n = len([e for e in self.events() if e[1] == "drops"])
        self.proc.send_signal(signal.SIGUSR1)
        ev = self.wait_for(lambda e: e[1] == "drops", 10, "drops")
        deadline = time.monotonic() + 10
        while len(ev) <= n and time.monotonic() < deadline:
            time.sleep(0.02)
            ev = [e for e in self.events() if e[1] == "drops"]
        assert len(ev) > n, "no new drops line"
        return {k: int(v) for k, v in (f.split("=") for f in ev[-1][2:])}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        return self.proc.returncode


@pytest.fixture
def veth():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if not os.access(DRIVER, os.X_OK):
        raise RuntimeError("%s is missing: make %s" % (DRIVER, DRIVER))
    tag = os.getpid()
    na, nb = "gsbfdA-%d" % tag, "gsbfdB-%d" % tag
    va, vb = "gsbA%d" % tag, "gsbB%d" % tag
    try:
        for ns in (na, nb):
            run("ip", "netns", "add", ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", na, "link", "add", va, "type", "veth", "peer", "name", vb, "netns", nb)
        for ns, dev, a4, a6 in ((na, va, A4, A6), (nb, vb, B4, B6)):
            # A link that goes down keeps its IPv6 address, as a tunnel's does.
            run("ip", "netns", "exec", ns, "sysctl", "-qw",
                "net.ipv6.conf.%s.keep_addr_on_down=1" % dev)
            run("ip", "-n", ns, "addr", "add", a4 + "/30", "dev", dev)
            run("ip", "-n", ns, "addr", "add", a6 + "/64", "dev", dev, "nodad")
            run("ip", "-n", ns, "link", "set", dev, "up")
        yield na, nb, va, vb
    finally:
        for ns in (na, nb):
            subprocess.run(["ip", "netns", "del", ns], check=False,
                           stderr=subprocess.DEVNULL)


def sessions(dev, l4, p4, l6, p6):
    ms = int(INTERVAL * 1000)
    return ["t4,%s,%s,%s,%d,%d" % (dev, l4, p4, ms, MULT),
            "t6,%s,%s,%s,%d,%d" % (dev, l6, p6, ms, MULT)]


def send(ns, dst, ttl, payload):
    run("ip", "netns", "exec", ns, "/usr/bin/python3", "-c", SENDER, dst, str(ttl), payload)


def test_bfd_pair_over_veth(tmp_path, veth):
    na, nb, va, vb = veth
    a = Driver(na, sessions(va, A4, B4, A6, B6), tmp_path / "a.log")
    b = None
    try:
        time.sleep(1.0)
        b = Driver(nb, sessions(vb, B4, A4, B6, A6), tmp_path / "b.log")
        ready_b = float(b.events()[0][0])
        # Up quickly: B's first packet is answered at once; at worst A's next slow
        # (1 s) packet does it.
        for d in (a, b):
            for sid in ("t4", "t6"):
                t, diag = d.state_at(sid, "up", 0)
                assert t - ready_b < 2.0, (d.path, sid, t - ready_b)
                assert diag == "none"

        time.sleep(1.0)     # Up and stable: the fast timers are in force by now
        cut = time.monotonic()
        run("ip", "-n", na, "link", "set", va, "down")
        for d in (a, b):
            changes = [e for e in d.events() if e[1] == "state" and float(e[0]) < cut]
            assert [e for e in changes if e[4] in ("down", "admin-down")] == [], changes
            for sid in ("t4", "t6"):
                t, diag = d.state_at(sid, "down", cut)
                assert cut < t <= cut + SLACK * DETECT, (d.path, sid, t - cut)
                assert diag == "time-expired"

        back = time.monotonic()
        run("ip", "-n", na, "link", "set", va, "up")
        for d in (a, b):
            for sid in ("t4", "t6"):
                t, _ = d.state_at(sid, "up", back)
                assert t - back < 5.0, (d.path, sid, t - back)
        time.sleep(0.5)
        settled = time.monotonic()

        # Single hop: TTL/hop limit 64 is dropped before decoding, 255 is not.
        before = b.drops()
        send(na, B4, 64, BFD_DOWN)
        send(na, B6, 64, BFD_DOWN)
        send(na, B4, 255, BAD_VERSION)
        deadline = time.monotonic() + 10
        while True:
            after = b.drops()
            if after["ttl"] - before["ttl"] >= 2 and after["version"] > before["version"]:
                break
            assert time.monotonic() < deadline, (before, after)
            time.sleep(0.1)
        assert after["ttl"] - before["ttl"] == 2
        assert after["version"] - before["version"] == 1
        assert after["no-session"] == before["no-session"]
        assert after["sessions"] == 2
        assert [e for e in b.events() if e[1] == "state" and float(e[0]) > settled] == []

        # AdminDown: the peer goes Down at once, told why; the removed sessions
        # linger for their three AdminDown packets (1 s apart), then are gone.
        removed = time.monotonic()
        a.proc.send_signal(signal.SIGUSR2)
        for sid in ("t4", "t6"):
            t, diag = b.state_at(sid, "down", removed)
            assert t - removed < 1.0, (sid, t - removed)
            assert diag == "neighbor-down"
        d = a.drops()
        assert d["sessions"] == 0
        deadline = time.monotonic() + 10
        while not d["idle"]:
            assert time.monotonic() < deadline, d
            time.sleep(0.2)
            d = a.drops()
        assert time.monotonic() - removed > 1.5     # not freed before its packets
    finally:
        codes = [d.stop() for d in (a, b) if d]
    assert codes == [0] * len(codes)
    for d in (a, b):
        assert d.events()[-1][1] == "drops"
