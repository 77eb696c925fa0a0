"""The controller's CA (issue 11): made at first start with its key private, served by
GET /v1/ca and carried in every intent; enrollment of a site's CSR over HTTPS with its
agent token; CSRs that are refused leave nothing behind; revocation re-signs the CRL,
which reaches every site's intent. CSRs are made with the openssl command line, as an
operator's tooling would."""
import http.client
import json
import os
import sqlite3
import ssl
import stat
import subprocess
import time

import pytest

from conftest import BUILD, assert_error, site
from test_server import make_cert

LIFETIME = 90       # --cert-lifetime here, seconds


def openssl(*args, data=None):
    r = subprocess.run(["openssl"] + list(args), input=data, capture_output=True, check=True)
    return r.stdout.decode()


def make_csr(d, name="k", key="ec", subj="/CN=a", san=None):
    keyfile = os.path.join(str(d), name + ".key")
    newkey = {"ec": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
              "rsa1024": ["-newkey", "rsa:1024"], "ed25519": ["-newkey", "ed25519"]}[key]
    args = ["req", "-new", "-nodes", "-keyout", keyfile, "-subj", subj] + newkey
    if san:
        args += ["-addext", "subjectAltName=" + san]
    return openssl(*args)


@pytest.fixture
def pctl(make_controller, tmp_path):
    cert, key = make_cert(str(tmp_path))
    c = make_controller("pctl", ["--tls-cert", cert, "--tls-key", key,
                                 "--cert-lifetime", str(LIFETIME)], tls_ca=cert)
    assert c.post("/v1/import", {"profiles": [{"name": "p1"}],
                                 "sites": [site("a", 1), site("b", 2)],
                                 "tunnels": [{"name": "x", "a": "a", "b": "b",
                                              "profile": "p1"}]}).status == 200
    return c


def agent_token(ctl, name):
    r = ctl.post("/v1/sites/%s/agent-token" % name)
    assert r.status == 201, r
    ctl.secrets.add(r.json["token"])
    return r.json["token"]


def test_ca_made_once_private_and_in_every_intent(pctl, tmp_path):
    key = os.path.join(pctl.workdir, "ca.key")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    r = pctl.get("/v1/ca", token=agent_token(pctl, "a"))
    assert r.status == 200, r
    ca = r.json["certificate"]
    assert r.json["crl"] is None        # nothing revoked yet
    text = openssl("x509", "-noout", "-text", data=ca.encode())
    assert "CA:TRUE" in text and "Certificate Sign" in text, text
    for s in ("a", "b"):
        assert pctl.get("/v1/agents/%s/intent" % s).json["ca"] == ca
    # A restart keeps the same CA.
    pctl.stop()
    pctl.start()
    assert pctl.get("/v1/ca").json["certificate"] == ca


def test_enroll_over_https(pctl, tmp_path):
    tok = agent_token(pctl, "a")
    csr = make_csr(tmp_path, san="DNS:a,IP:198.18.0.2")
    before = time.time()
    r = pctl.post("/v1/agents/a/csr", {"csr": csr}, token=tok)
    assert r.status == 201, r
    cert = r.json["certificate"]
    assert abs(r.json["not_after"] - before - LIFETIME) < 5, r.json
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(r.json["ca"])
    crt_file = tmp_path / "a.pem"
    crt_file.write_text(cert)
    assert "OK" in openssl("verify", "-CAfile", str(ca_file), str(crt_file))
    text = openssl("x509", "-noout", "-text", "-in", str(crt_file))
    assert "DNS:a, IP Address:198.18.0.2" in text, text
    assert "CN = a" in openssl("x509", "-noout", "-subject", "-in", str(crt_file))
    # The certificate is for the key in the CSR, which never left this side.
    pub_csr = openssl("req", "-noout", "-pubkey", data=csr.encode())
    pub_crt = openssl("x509", "-noout", "-pubkey", "-in", str(crt_file))
    assert pub_csr == pub_crt
    items = pctl.get("/v1/sites/a/certs").json["items"]
    assert [i["serial"] for i in items] == [r.json["serial"]]
    # Renewal: a second CSR, a second certificate, the first still valid until it ends.
    r2 = pctl.post("/v1/agents/a/csr", {"csr": make_csr(tmp_path, "k2")}, token=tok)
    assert r2.status == 201, r2
    assert r2.json["serial"] != r.json["serial"]
    assert len(pctl.get("/v1/sites/a/certs").json["items"]) == 2


@pytest.mark.parametrize("kind,why", [
    ("rsa1024", "key type"),
    ("other-san", "subjectAltName"),
    ("other-ip", "subjectAltName"),
    ("other-cn", "CN"),
    ("garbage", "not a PEM"),
    ("oversized", "larger than"),
])
def test_refused_csr_stores_nothing(pctl, tmp_path, kind, why):
    tok = agent_token(pctl, "a")
    csr = {"rsa1024": lambda: make_csr(tmp_path, key="rsa1024"),
           "other-san": lambda: make_csr(tmp_path, san="DNS:b"),
           "other-ip": lambda: make_csr(tmp_path, san="IP:198.18.0.3"),
           "other-cn": lambda: make_csr(tmp_path, subj="/CN=b"),
           "garbage": lambda: "not a certificate request",
           "oversized": lambda: "A" * 9000}[kind]()
    e = assert_error(pctl.post("/v1/agents/a/csr", {"csr": csr}, token=tok), 422, "invalid")
    assert e["details"][0]["path"] == "csr", e
    assert why in e["details"][0]["message"], e
    assert pctl.get("/v1/sites/a/certs").json["items"] == []


def test_enroll_needs_the_sites_own_token(pctl, tmp_path):
    csr = make_csr(tmp_path)
    assert_error(pctl.post("/v1/agents/a/csr", {"csr": csr}, token=agent_token(pctl, "b")), 403)
    viewer = pctl.issue("viewer")
    assert_error(pctl.post("/v1/agents/a/csr", {"csr": csr}, token=viewer), 403)
    assert_error(pctl.post("/v1/agents/zz/csr", {"csr": csr}), 404)
    assert_error(pctl.post("/v1/agents/a/csr", {"certificate": csr},
                           token=agent_token(pctl, "a")), 422)
    assert pctl.get("/v1/sites/a/certs").json["items"] == []


def crl_serials(pem):
    text = openssl("crl", "-noout", "-text", data=pem.encode())
    return [l.split(":")[1].strip().lower() for l in text.splitlines()
            if "Serial Number:" in l]


def test_revoke_reaches_every_intent(pctl, tmp_path):
    tok = agent_token(pctl, "a")
    serial = pctl.post("/v1/agents/a/csr", {"csr": make_csr(tmp_path)}, token=tok).json["serial"]
    rev_b = pctl.get("/v1/agents/b/intent").json["revision"]
    operator = pctl.issue("operator")
    assert_error(pctl.post("/v1/sites/a/revoke-cert", token=pctl.issue("viewer")), 403)
    r = pctl.post("/v1/sites/a/revoke-cert", token=operator)
    assert r.status == 200 and r.json["revoked"] == 1, r
    ib = pctl.get("/v1/agents/b/intent").json
    assert ib["revision"] > rev_b
    assert crl_serials(ib["crl"]) == [serial]
    assert crl_serials(pctl.get("/v1/ca").json["crl"]) == [serial]
    assert pctl.get("/v1/sites/a/certs").json["items"][0]["revoked_at"] is not None
    # The site's agent tokens went with them: the gateway cannot simply enroll again.
    assert_error(pctl.post("/v1/agents/a/csr", {"csr": make_csr(tmp_path, "k3")}, token=tok), 401)
    assert_error(pctl.get("/v1/agents/a/intent", token=tok), 401)
    assert pctl.get("/v1/agents/b/intent").status == 200
    # Nothing left to revoke: no change.
    assert pctl.post("/v1/sites/a/revoke-cert", token=operator).json["revoked"] == 0
    assert pctl.get("/v1/agents/b/intent").json["revision"] == ib["revision"]
    assert_error(pctl.post("/v1/sites/zz/revoke-cert"), 404)


def test_delete_site_revokes_its_certificates(pctl, tmp_path):
    tok = agent_token(pctl, "a")
    serial = pctl.post("/v1/agents/a/csr", {"csr": make_csr(tmp_path)}, token=tok).json["serial"]
    assert pctl.delete("/v1/tunnels/x").status == 204
    assert pctl.delete("/v1/sites/a").status == 204
    assert crl_serials(pctl.get("/v1/agents/b/intent").json["crl"]) == [serial]
    # The CRL survives a restart (it is re-signed from the rows).
    pctl.stop()
    pctl.start()
    assert crl_serials(pctl.get("/v1/ca").json["crl"]) == [serial]


# ---- mTLS: --tls-client-ca (issue 11, item 6) ----

def tls_get(ctl, path, cert=None, key=None, token=None, method="GET", body=None):
    """One HTTPS request with an optional client certificate (and bearer token)."""
    ctx = ssl.create_default_context(cafile=ctl.tls_ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    c = http.client.HTTPSConnection("127.0.0.1", ctl.port, context=ctx, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    c.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, (json.loads(data) if data else None)


@pytest.fixture
def mctl(make_controller, tmp_path):
    cert, key = make_cert(str(tmp_path))
    work = tmp_path / "mctl"
    c = make_controller("mctl", ["--tls-cert", cert, "--tls-key", key,
                                 "--cert-lifetime", str(LIFETIME),
                                 "--tls-client-ca", str(work / "ca.pem")],
                        workdir=work, tls_ca=cert)
    assert c.post("/v1/import", {"profiles": [{"name": "p1"}],
                                 "sites": [site("a", 1), site("b", 2)],
                                 "tunnels": [{"name": "x", "a": "a", "b": "b",
                                              "profile": "p1"}]}).status == 200
    return c


def enroll(ctl, d, name):
    """A key and certificate for site name, as files in d."""
    tok = agent_token(ctl, name)
    csr = make_csr(d, name, subj="/CN=" + name)
    r = ctl.post("/v1/agents/%s/csr" % name, {"csr": csr}, token=tok)
    assert r.status == 201, r
    path = os.path.join(str(d), name + ".pem")
    with open(path, "w") as f:
        f.write(r.json["certificate"])
    return path, os.path.join(str(d), name + ".key"), tok


def test_mtls_site_binding(mctl, tmp_path):
    cert, key, _ = enroll(mctl, tmp_path, "a")
    st, it = tls_get(mctl, "/v1/agents/a/intent", cert, key)
    assert st == 200 and it["site"] == "a", (st, it)
    # Site a's certificate never acts for site b, nor as anything but an agent.
    assert tls_get(mctl, "/v1/agents/b/intent", cert, key)[0] == 403
    assert tls_get(mctl, "/v1/sites", cert, key)[0] == 403
    # Renewal with the certificate alone (the token is for the first enrollment).
    st, r = tls_get(mctl, "/v1/agents/a/csr", cert, key, method="POST",
                    body={"csr": make_csr(tmp_path, "a2", subj="/CN=a")})
    assert st == 201, r
    # A certificate with another site's token: refused.
    tok_b = agent_token(mctl, "b")
    assert tls_get(mctl, "/v1/agents/b/intent", cert, key, token=tok_b)[0] == 401
    # Without a certificate, tokens work as before.
    assert tls_get(mctl, "/v1/agents/b/intent", token=tok_b)[0] == 200
    assert tls_get(mctl, "/v1/agents/a/intent")[0] == 401


def test_mtls_revoked_refused(mctl, tmp_path):
    cert, key, _ = enroll(mctl, tmp_path, "a")
    assert tls_get(mctl, "/v1/agents/a/intent", cert, key)[0] == 200
    assert mctl.post("/v1/sites/a/revoke-cert").json["revoked"] == 1
    st, e = tls_get(mctl, "/v1/agents/a/intent", cert, key)
    assert st == 401 and "revoked" in e["error"]["message"], (st, e)


def test_mtls_foreign_and_expired_refused(mctl, tmp_path):
    # Signed by another CA: the chain fails.
    other = tmp_path / "other"
    other.mkdir()
    fc, fk = make_cert(str(other))
    assert tls_get(mctl, "/v1/agents/a/intent", fc, fk)[0] == 401
    # Signed by this CA but not recorded (made with the CA key directly): unknown serial.
    work = tmp_path / "mctl"
    csr = tmp_path / "f.csr"
    csr.write_text(make_csr(tmp_path, "f", subj="/CN=a", san="DNS:a"))
    forged = tmp_path / "f.pem"
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(work / "ca.pem"),
                    "-CAkey", str(work / "ca.key"), "-CAcreateserial", "-days", "1",
                    "-copy_extensions", "copy", "-out", str(forged)],
                   check=True, capture_output=True)
    assert tls_get(mctl, "/v1/agents/a/intent", str(forged),
                   str(tmp_path / "f.key"))[0] == 401
    # Expired: signed by this CA, dated 2020, and recorded as valid in the database so
    # that only its dates can refuse it (openssl ca: x509 -req cannot set past dates).
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    (ca_dir / "index.txt").write_text("")
    (ca_dir / "serial").write_text("7A01\n")
    (ca_dir / "ca.cnf").write_text(
        "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\n"
        "serial = serial\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\n"
        "[p]\ncommonName = supplied\n")
    old = tmp_path / "old.pem"
    subprocess.run(["openssl", "ca", "-batch", "-config", "ca.cnf", "-cert",
                    str(work / "ca.pem"), "-keyfile", str(work / "ca.key"), "-in", str(csr),
                    "-out", str(old), "-notext", "-startdate", "20200101000000Z",
                    "-enddate", "20200102000000Z"], cwd=str(ca_dir), check=True,
                   capture_output=True)
    con = sqlite3.connect(mctl.db)
    with con:
        con.execute("INSERT INTO cert (serial, site, not_after, issued_at) "
                    "VALUES ('7a01', 'a', ?, ?)", (int(time.time()) + 3600, int(time.time())))
    con.close()
    st, e = tls_get(mctl, "/v1/agents/a/intent", str(old), str(tmp_path / "f.key"))
    assert st == 401, (st, e)


def test_agent_known_by_its_certificate(mctl, tmp_path):
    """gresec-agent offers the certificate in its state directory (--once here: what
    the daemon enrolled); with it, a token that is no token at all does not matter."""
    agent = os.path.join(BUILD, "gresec-agent")
    cert, key, _ = enroll(mctl, tmp_path, "a")
    bogus = tmp_path / "bogus.token"
    bogus.write_text("gst_" + "0" * 64 + "\n")
    os.chmod(str(bogus), 0o600)

    def run(site, state):
        return subprocess.run([agent, "--controller", "https://127.0.0.1:%d" % mctl.port,
                               "--site", site, "--token-file", str(bogus), "--state-dir",
                               str(state), "--ca", mctl.tls_ca, "--once", "--dry-run"],
                              capture_output=True, text=True, timeout=60)
    state = tmp_path / "state"
    state.mkdir()
    with open(key) as f:
        (state / "ike.key").write_text(f.read())
    os.chmod(str(state / "ike.key"), 0o600)
    with open(cert) as f:
        (state / "ike.pem").write_text(f.read())
    r = run("a", state)
    assert r.returncode == 0, r.stderr
    assert "add link" in r.stdout, r.stdout
    # Its certificate does not make it site b; without it, the bogus token is refused.
    r = run("b", state)
    assert r.returncode != 0 and "403" in r.stderr, r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run("a", empty)
    assert r.returncode != 0 and "401" in r.stderr, r.stderr
