"""The agent's controller client against the real controller, in --dry-run so the host
kernel is only read: it fetches its own site's intent with its agent token, plans from
it, verifies the controller's certificate with --ca, and refuses what it must refuse.
(Applying to a real kernel is tested in user-mode Linux: tests/kernel, tests/e2e.)"""
import json
import os
import subprocess

from conftest import BUILD, free_port
from test_server import make_cert

AGENT = os.path.join(BUILD, "gresec-agent")
DOC = {
    "profiles": [{"name": "p"}],
    "sites": [{"name": "hub", "underlay": "192.0.2.1", "prefixes": ["10.0.1.0/24"]},
              {"name": "b1", "underlay": "192.0.2.11", "prefixes": ["10.1.1.0/24"]},
              {"name": "b2", "underlay": "192.0.2.12", "prefixes": ["10.1.2.0/24"]}],
    "topologies": [{"name": "star", "kind": "hub-spoke", "profile": "p", "hubs": ["hub"],
                    "members": ["b1", "b2"]}],
}


def run_agent(url, site, token_file, state, extra=()):
    return subprocess.run([AGENT, "--controller", url, "--site", site, "--token-file",
                           token_file, "--state-dir", state, "--once", "--dry-run",
                           "--insecure-http"] + list(extra),
                          capture_output=True, text=True, timeout=60)


def agent_token(ctl, tmp_path, name):
    r = ctl.post("/v1/sites/%s/agent-token" % name)
    assert r.status == 201, r
    ctl.secrets.add(r.json["token"])
    path = str(tmp_path / ("%s.token" % name))
    with open(path, "w") as f:
        f.write(r.json["token"] + "\n")
    os.chmod(path, 0o600)
    return path, r.json["token"]


def test_agent_plans_its_own_intent(ctl, tmp_path):
    assert ctl.post("/v1/import", DOC).status == 200
    tok, secret = agent_token(ctl, tmp_path, "b1")
    r = run_agent("http://127.0.0.1:%d" % ctl.port, "b1", tok, str(tmp_path))
    assert r.returncode == 0, r.stderr
    it = ctl.get("/v1/agents/b1/intent").json
    (t,) = it["tunnels"]
    # The plan is built from the intent it fetched: its tunnel, its routes, its SPD.
    assert "add link %s kind gre local 192.0.2.11 remote 192.0.2.1" % t["ifname"] in r.stdout, r.stdout
    assert "add route 10.1.2.0/24 dev %s metric 200" % t["ifname"] in r.stdout, r.stdout
    assert "tmpl esp transport reqid %d" % t["reqid"] in r.stdout, r.stdout
    # No secret of any kind in what the agent printed.
    for s in [secret, t["psk"], ctl.admin]:
        assert s not in r.stdout + r.stderr


def test_agent_refuses_plain_http_unless_told(ctl, tmp_path):
    assert ctl.post("/v1/import", DOC).status == 200
    tok, secret = agent_token(ctl, tmp_path, "b1")
    url = "http://127.0.0.1:%d" % ctl.port
    r = subprocess.run([AGENT, "--controller", url, "--site", "b1", "--token-file", tok,
                        "--state-dir", str(tmp_path), "--once", "--dry-run"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert "refusing plain http" in r.stderr and "--insecure-http" in r.stderr, r.stderr
    assert r.stdout == "" and secret not in r.stderr
    # Nothing was fetched: the agent's intent was never asked for.
    assert "add link" not in r.stdout
    r = run_agent(url, "b1", tok, str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "plain http (--insecure-http)" in r.stderr, r.stderr


def test_agent_token_of_another_site_is_refused(ctl, tmp_path):
    assert ctl.post("/v1/import", DOC).status == 200
    tok, _ = agent_token(ctl, tmp_path, "b1")
    r = run_agent("http://127.0.0.1:%d" % ctl.port, "b2", tok, str(tmp_path))
    assert r.returncode != 0
    assert "403" in r.stderr, r.stderr


def test_agent_verifies_the_controller_certificate(make_controller, tmp_path):
    cert, key = make_cert(str(tmp_path))
    ctl = make_controller("tls", ["--tls-cert", cert, "--tls-key", key], tls_ca=cert)
    assert ctl.post("/v1/import", DOC).status == 200
    tok, _ = agent_token(ctl, tmp_path, "hub")
    url = "https://127.0.0.1:%d" % ctl.port
    r = run_agent(url, "hub", tok, str(tmp_path), ["--ca", cert])
    assert r.returncode == 0, r.stderr
    assert "add link" in r.stdout
    # Without the CA the certificate is not trusted, and nothing is fetched.
    os.mkdir(str(tmp_path / "other"))
    other, _ = make_cert(str(tmp_path / "other"))
    r = run_agent(url, "hub", tok, str(tmp_path / "x"), ["--ca", other])
    assert r.returncode != 0
    assert "add link" not in r.stdout


def test_weak_proposals_are_refused_by_the_controller_and_by_the_agent(ctl, tmp_path):
    # One allowed set (docs/intent.md) for both: the controller refuses the profile...
    doc = dict(DOC, profiles=[{"name": "p", "ike_proposals": ["aes128-sha1-modp2048"]}])
    r = ctl.post("/v1/import", doc)
    assert r.status == 422, r
    assert {"path": "profiles[0].ike_proposals[0]",
            "message": "IKE proposal: 'sha1' is SHA-1"} in r.json["error"]["details"], r.json
    # ... and a controller that sends one all the same (compromised, or restored from an
    # old backup) gets the tunnel refused, named, with its reason.
    assert ctl.post("/v1/import", DOC).status == 200
    it = ctl.get("/v1/agents/b1/intent").json
    (t,) = it["tunnels"]
    t["security"]["ike_proposals"] = ["aes128-sha1-modp2048"]
    path = tmp_path / "weak.json"
    path.write_text(json.dumps(it))
    r = subprocess.run([AGENT, "--intent", str(path), "--state-dir", str(tmp_path),
                        "--once", "--dry-run"], capture_output=True, text=True, timeout=60)
    line = "refuse tunnel %s: IKE proposal: 'sha1' is SHA-1" % t["id"]
    assert line in r.stdout, (r.stdout, r.stderr)
    assert "site b1 tunnel %s: refused: IKE proposal: 'sha1' is SHA-1" % t["id"] in r.stderr
    # Nothing of the tunnel is planned, and the run says it did not converge.
    assert "add link" not in r.stdout and "add route" not in r.stdout, r.stdout
    assert "failed=1 converged=no" in r.stderr, r.stderr
    assert t["psk"] not in r.stdout + r.stderr
