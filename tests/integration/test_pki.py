"""The controller's CA (issue 11): made at first start with its key private, served by
GET /v1/ca and carried in every intent; enrollment of a site's CSR over HTTPS with its
agent token; CSRs that are refused leave nothing behind; revocation re-signs the CRL,
which reaches every site's intent. CSRs are made with the openssl command line, as an
operator's tooling would."""
import os
import stat
import subprocess
import time

import pytest

from conftest import assert_error, site
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
