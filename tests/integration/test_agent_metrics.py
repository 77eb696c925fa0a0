"""The agent's Prometheus endpoint (--metrics-listen, served from its one poll loop): the
exposition passes promtool, and its values move: the applied revision and its propagation
delay from the controller's commit, reconcile passes, netlink messages, and a state per
tunnel. Anything but GET /metrics is refused. The agent runs in a network namespace of
the test's own making, reached as in test_agent_loop.py."""
import os
import subprocess
import time

from conftest import BUILD, free_port
from promtext import parse, promtool_check, value
from test_agent_client import DOC, agent_token
from test_agent_daemon import netns  # noqa: F401 (fixture)
from test_agent_loop import Forwarder, applied, listen_in_netns, received_in, threads, wait_for

AGENT = os.path.join(BUILD, "gresec-agent")


def curl(ns, *args):
    """curl inside the namespace: (status, headers and body as text)."""
    p = subprocess.run(["ip", "netns", "exec", ns, "curl", "-sS", "-i", "--max-time", "10"] +
                       list(args), capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    head, _, body = p.stdout.partition("\n\n")     # text mode: CRLF read as LF
    return int(head.split()[1]), head, body


def scrape(ns, port):
    status, head, body = curl(ns, "http://127.0.0.1:%d/metrics" % port)
    assert status == 200, head + body
    assert body.startswith("# HELP "), body[:200]
    assert "Content-Type: text/plain; version=0.0.4" in head, head
    promtool_check(body)
    return parse(body)


def test_agent_metrics_move(make_controller, tmp_path, netns):  # noqa: F811
    ctl = make_controller("ctl")
    assert ctl.post("/v1/import", DOC).status == 200
    tok, secret = agent_token(ctl, tmp_path, "b1")
    os.mkdir(str(tmp_path / "state"))
    fwd = Forwarder(listen_in_netns(netns))
    fwd.target = ctl.port
    mport = free_port()
    log_path = tmp_path / "agent.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(["ip", "netns", "exec", netns, AGENT, "--controller",
                             "http://127.0.0.1:%d" % fwd.port, "--site", "b1",
                             "--token-file", tok, "--state-dir", str(tmp_path / "state"),
                             "--vici", str(tmp_path / "no-charon.vici"), "--resync", "1",
                             "--insecure-http", "--metrics-listen", "127.0.0.1:%d" % mport],
                            stdout=log, stderr=log)
    try:
        it = ctl.get("/v1/agents/b1/intent").json
        wait_for("the first intent", lambda: received_in(log_path, it["revision"]), 20)
        wait_for("its status report", lambda: applied(ctl, "b1") == it["revision"], 20)
        m1 = scrape(netns, mport)
        assert value(m1, "gresec_agent_intent_revision") == it["revision"]
        delay = value(m1, "gresec_agent_intent_propagation_seconds")
        assert ("gresec_agent_intent_propagation_seconds", frozenset()) in m1
        assert 0 <= delay < 60, delay
        assert abs(value(m1, "gresec_agent_intent_applied_timestamp_seconds") - time.time()) < 60
        (t,) = it["tunnels"]
        # The namespace's kernel cannot make the GRE link: the interface plane says so.
        states = {dict(k[1])["plane"]: dict(k[1])["state"] for k, v in m1.items()
                  if k[0] == "gresec_agent_tunnel_state" and dict(k[1])["tunnel"] == t["id"]}
        assert states.get("interface") in ("up", "failed"), states
        assert {"ike", "child"} <= set(states), states
        assert ("gresec_agent_tunnel_bytes_total",
                frozenset({("tunnel", t["id"]), ("direction", "in")})) in m1
        assert value(m1, "gresec_agent_reconcile_passes_total") >= 1
        assert value(m1, "gresec_agent_netlink_messages_total", kind="read") > 0
        # Passes every second (--resync 1): the counters move.
        wait_for("more passes", lambda: value(scrape(netns, mport),
                 "gresec_agent_reconcile_passes_total") >
                 value(m1, "gresec_agent_reconcile_passes_total") + 1, 10)
        m2 = scrape(netns, mport)
        assert value(m2, "gresec_agent_reconcile_duration_seconds_count") == \
            value(m2, "gresec_agent_reconcile_passes_total")
        assert value(m2, "gresec_agent_netlink_messages_total", kind="read") > \
            value(m1, "gresec_agent_netlink_messages_total", kind="read")
        # A new revision: applied, and the gauge follows.
        r = ctl.patch("/v1/sites/b2", {"prefixes": ["10.1.2.0/24", "10.9.2.0/24"]})
        assert r.status == 200, r
        rev2 = ctl.get("/v1/agents/b1/intent").json["revision"]
        wait_for("revision %d applied" % rev2, lambda: value(
            scrape(netns, mport), "gresec_agent_intent_revision") == rev2, 10)
        # Only GET /metrics; one thread all along.
        assert curl(netns, "http://127.0.0.1:%d/" % mport)[0] == 404
        assert curl(netns, "-X", "POST", "http://127.0.0.1:%d/metrics" % mport)[0] == 405
        assert threads(proc.pid) == (1, 1)
        # No secret in what it exposes.
        body = curl(netns, "http://127.0.0.1:%d/metrics" % mport)[2]
        assert secret not in body and t["psk"] not in body
        proc.terminate()
        assert proc.wait(timeout=10) == 0, log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
        fwd.close()
        log.close()


def test_agent_refuses_a_bad_metrics_address(tmp_path, netns):  # noqa: F811
    token = tmp_path / "agent.token"
    token.write_text("gst_" + "0" * 64 + "\n")
    os.chmod(token, 0o600)
    for bad in ("localhost:9101", "127.0.0.1", ":9101", "127.0.0.1:0", "[::1:9101"):
        p = subprocess.run(["ip", "netns", "exec", netns, AGENT, "--controller",
                            "http://127.0.0.1:1", "--site", "b1", "--token-file", str(token),
                            "--vici", str(tmp_path / "no.vici"), "--insecure-http",
                            "--metrics-listen", bad], capture_output=True, text=True,
                           timeout=20)
        assert p.returncode != 0, bad
        assert "--metrics-listen %s: expected IPv4:PORT or [IPv6]:PORT" % bad in p.stderr, p.stderr
