"""An agent with several controllers (--controller repeated, in order of preference):
when the one it long-polls dies it moves to the next and takes the next change from
there; when the preferred one is back it returns to it after two probe rounds; and a
controller that lags (an older revision than the agent's) never makes it apply that
older revision. Two controllers share one SQLite database file (the controller opens it
in WAL mode, without exclusive locking), as in the multi-controller design; the lagging
one runs on a copy taken earlier. The agent runs in a network namespace of the test's
own making, reaching each controller through its own forwarder (test_agent_loop.py)."""
import json
import os
import shutil
import sqlite3
import subprocess
import time

from conftest import BUILD
from test_agent_client import DOC, agent_token
from test_agent_daemon import netns  # noqa: F401 (fixture)
from test_agent_loop import Forwarder, applied, listen_in_netns, revision, wait_for
from test_agent_metrics import scrape
from promtext import value

AGENT = os.path.join(BUILD, "gresec-agent")
METRICS_PORT = 9541     # in the agent's own namespace: nothing else listens there


def second_controller(make_controller, tmp_path, name, first, db):
    """A controller on db, which already has first's admin token (it issues none)."""
    os.makedirs(str(tmp_path / name))
    shutil.copy(first.token_file, str(tmp_path / name / "admin.token"))
    return make_controller(name, db=db)


def start_agent(ns, tmp_path, tok, urls, extra=()):
    os.mkdir(str(tmp_path / "state"))
    log = open(tmp_path / "agent.log", "wb")
    args = ["ip", "netns", "exec", ns, AGENT, "--site", "b1", "--token-file", tok,
            "--state-dir", str(tmp_path / "state"), "--vici", str(tmp_path / "no-charon.vici"),
            "--resync", "1", "--insecure-http", "--controller-probe", "1"]
    for u in urls:
        args += ["--controller", u]
    proc = subprocess.Popen(args + list(extra), stdout=log, stderr=log)
    log.close()
    return proc


def state(tmp_path, name):
    try:
        with open(str(tmp_path / "state" / name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def test_agent_fails_over_and_returns(make_controller, tmp_path, netns):  # noqa: F811
    a = make_controller("a")
    assert a.post("/v1/import", DOC).status == 200
    tok, secret = agent_token(a, tmp_path, "b1")
    b = second_controller(make_controller, tmp_path, "b", a, a.db)
    fa, fb = Forwarder(listen_in_netns(netns)), Forwarder(listen_in_netns(netns))
    fa.target, fb.target = a.port, b.port
    ua, ub = ("http://127.0.0.1:%d" % f.port for f in (fa, fb))
    proc = start_agent(netns, tmp_path, tok, [ua, ub],
                       ["--metrics-listen", "127.0.0.1:%d" % METRICS_PORT])

    def log():
        return (tmp_path / "agent.log").read_text()

    def received(rev):
        return "intent revision %d received" % rev in log()

    def on(url):
        return state(tmp_path, "status.json").get("controller", {}).get("url") == url

    try:
        rev1 = revision(a, "b1")
        wait_for("the first intent", lambda: received(rev1), 20)
        wait_for("status.json naming the first controller", lambda: on(ua), 10)
        assert state(tmp_path, "status.json")["controller"]["of"] == 2

        # The preferred controller dies: the agent moves to the next, logs it once with
        # both URLs, and takes the next change (made there) well within two poll timeouts.
        a.kill9()
        fa.target = None
        t0 = time.monotonic()
        switch = "controller %s: " % ua
        wait_for("the switch", lambda: switch in log() and "switching to controller %s" % ub
                 in log(), 15)
        assert b.patch("/v1/sites/b2", {"prefixes": ["10.1.2.0/24", "10.9.2.0/24"]}).status == 200
        rev2 = revision(b, "b1")
        assert rev2 > rev1
        wait_for("the change made on the second controller", lambda: received(rev2), 60)
        assert time.monotonic() - t0 < 60
        assert state(tmp_path, "intent.json")["revision"] == rev2
        wait_for("its status report, to the second controller", lambda: applied(b, "b1") == rev2, 20)
        wait_for("status.json naming the second controller", lambda: on(ub), 10)
        assert state(tmp_path, "status.json")["controller"]["index"] == 1
        m = scrape(netns, METRICS_PORT)
        assert value(m, "gresec_agent_controller_current", url=ub) == 1
        assert value(m, "gresec_agent_controller_current", url=ua) == 0
        assert value(m, "gresec_agent_controller_up", url=ua) == 0
        assert value(m, "gresec_agent_controller_up", url=ub) == 1
        assert value(m, "gresec_agent_controller_switches_total") == 1
        # Still on the second: the dead first one is probed, not returned to.
        time.sleep(2.5)
        assert on(ub) and "switching back" not in log()

        # The preferred one is back (same database, another port): after two probe
        # rounds (1 s each, jittered) the agent returns to it, once, and the next change
        # made there reaches it at once (the second controller would not hear of it
        # before its held poll times out).
        a2 = make_controller("a2", workdir=tmp_path / "a")
        fa.target = a2.port
        t1 = time.monotonic()
        back = "controller %s answers again; switching back to it from %s" % (ua, ub)
        wait_for("the return", lambda: back in log(), 15)
        assert time.monotonic() - t1 >= 0.8, "returned after one probe answer"
        assert log().count("switching back") == 1
        assert a2.patch("/v1/sites/b2", {"prefixes": ["10.1.2.0/24"]}).status == 200
        rev3 = revision(a2, "b1")
        assert rev3 > rev2
        t2 = time.monotonic()
        wait_for("the change made on the first controller", lambda: received(rev3), 10)
        assert time.monotonic() - t2 < 5
        wait_for("status.json naming the first controller again", lambda: on(ua), 10)
        m = scrape(netns, METRICS_PORT)
        assert value(m, "gresec_agent_controller_current", url=ua) == 1
        assert value(m, "gresec_agent_controller_switches_total") == 2

        proc.terminate()
        assert proc.wait(timeout=10) == 0, log()
        text = log()
        assert secret not in text and a.admin not in text
        # Each switch logged once (warn and info lines, both URLs in each).
        assert text.count("switching to controller %s" % ub) == 1, text
    finally:
        if proc.poll() is None:
            proc.kill()
        fa.close()
        fb.close()


def test_lagging_controller_never_rolls_the_site_back(make_controller, tmp_path,
                                                     netns):  # noqa: F811
    a = make_controller("a")
    assert a.post("/v1/import", DOC).status == 200
    tok, secret = agent_token(a, tmp_path, "b1")
    rev1 = revision(a, "b1")
    # A copy of the database as it is now (SQLite's online backup: the WAL included).
    os.makedirs(str(tmp_path / "lag"))
    copy = str(tmp_path / "lag" / "copy.db")
    src, dst = sqlite3.connect(a.db), sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    os.chmod(copy, 0o600)
    lag = second_controller(make_controller, tmp_path, "c", a, copy)
    # Its own CA beside its copy may have bumped the copy's revision once at start: the
    # first controller moves on by more than that.
    rev1 = revision(lag, "b1")
    for prefixes in (["10.1.2.0/24", "10.9.2.0/24"], ["10.1.2.0/24"], ["10.1.2.0/24", "10.9.3.0/24"]):
        assert a.patch("/v1/sites/b2", {"prefixes": prefixes}).status == 200
    rev2 = revision(a, "b1")
    assert rev2 > rev1 and revision(lag, "b1") == rev1

    fa, fc = Forwarder(listen_in_netns(netns)), Forwarder(listen_in_netns(netns))
    fa.target, fc.target = a.port, lag.port
    ua, uc = ("http://127.0.0.1:%d" % f.port for f in (fa, fc))
    proc = start_agent(netns, tmp_path, tok, [ua, uc])

    def log():
        return (tmp_path / "agent.log").read_text()

    try:
        wait_for("the intent", lambda: "intent revision %d received" % rev2 in log(), 20)
        # The first dies; the lagging one answers after=rev2 with rev1 at once (to a
        # controller, any other revision is news): the agent does not take it, and goes
        # on between the two, enforcing rev2.
        a.kill9()
        fa.target = None
        older = "revision %d is older than %d, the agent's (lagging?); not applied" % (rev1, rev2)
        wait_for("the lagging answer, twice", lambda: log().count(older) >= 2, 30)
        assert "switching to controller %s" % uc in log()
        assert "intent revision %d received" % rev1 not in log()
        assert "went back" not in log()
        assert state(tmp_path, "intent.json")["revision"] == rev2
        assert state(tmp_path, "status.json")["revision"] == rev2
        assert proc.poll() is None, log()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
        fa.close()
        fc.close()
    assert secret not in log()

    # The same lagging controller alone is the agent's only word: it follows it (a
    # database restored from a backup), as it always did.
    r = subprocess.run([AGENT, "--controller", uc.replace(str(fc.port), str(lag.port)),
                        "--site", "b1", "--token-file", tok, "--state-dir",
                        str(tmp_path / "state"), "--once", "--dry-run", "--insecure-http"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "went back from revision %d to %d" % (rev2, rev1) in r.stderr, r.stderr
