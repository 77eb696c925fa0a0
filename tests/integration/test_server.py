"""The controller as a process: HTTPS with --tls-cert/--tls-key, a database written by a
newer gresec refused with a clear message, data kept across restarts."""
import json
import os
import sqlite3
import ssl
import subprocess
import time
import http.client

import pytest

from conftest import BINARY, free_port, site


def make_cert(d):
    key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def test_https(make_controller, tmp_path):
    cert, key = make_cert(str(tmp_path))
    port = free_port()
    log = open(tmp_path / "tls.log", "wb")
    proc = subprocess.Popen([BINARY, "--db", str(tmp_path / "t.db"), "--listen",
                             "127.0.0.1:%d" % port, "--tls-cert", cert, "--tls-key", key],
                            stdout=log, stderr=log)
    try:
        ctx = ssl.create_default_context(cafile=cert)
        body = None
        for _ in range(100):
            try:
                c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=2)
                c.request("GET", "/healthz")
                body = json.loads(c.getresponse().read())
                break
            except (ConnectionRefusedError, ssl.SSLError, OSError):
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
        assert body and body["status"] == "ok", open(tmp_path / "tls.log").read()
        # The certificate is verified: a client that trusts nothing else refuses it...
        with pytest.raises(ssl.SSLError):
            c = http.client.HTTPSConnection("127.0.0.1", port,
                                            context=ssl.create_default_context(), timeout=2)
            c.request("GET", "/healthz")
        # ...and plain HTTP on the TLS port gets no API answer.
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
            c.request("GET", "/healthz")
            r = c.getresponse()
            assert r.status != 200
            raise http.client.HTTPException("answered %d" % r.status)
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_tls_options_go_together(tmp_path):
    r = subprocess.run([BINARY, "--db", str(tmp_path / "t.db"), "--tls-cert", "x.pem"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "--tls-key" in r.stderr, r


def test_newer_database_refused(make_controller, tmp_path):
    ctl = make_controller("old")
    assert ctl.stop() == 0
    con = sqlite3.connect(ctl.db)
    con.execute("PRAGMA user_version = 999")
    con.commit()
    con.close()
    r = subprocess.run([BINARY, "--db", ctl.db, "--listen", "127.0.0.1:%d" % free_port(),
                        "--admin-token-file", ctl.token_file],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert "newer" in r.stderr and "999" in r.stderr, r.stderr
    # Refused without touching it.
    con = sqlite3.connect(ctl.db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 999
    con.close()


def test_data_and_token_survive_restart(make_controller):
    ctl = make_controller("restart")
    assert ctl.post("/v1/sites", site("keep", 1)).status == 201
    admin = ctl.admin
    assert ctl.stop() == 0
    ctl.start()
    # No second bootstrap token: the first one still works.
    assert ctl.admin == admin
    r = ctl.get("/v1/sites/keep")
    assert r.status == 200 and r.json["underlay"] == site("keep", 1)["underlay"], r


def s_client(port, *args):
    """openssl s_client's handshake against port: the negotiated (protocol, cipher), or
    None when the handshake failed. SECLEVEL=0 lets the client offer what the server
    must refuse by itself."""
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] + list(args),
                       input=b"", capture_output=True, timeout=10)
    out = p.stdout.decode("latin-1")
    for line in out.splitlines():
        if line.startswith("New, ") and "Cipher is" in line:
            proto, cipher = line[5:].split(", Cipher is ")
            return None if cipher.strip() == "(NONE)" else (proto, cipher.strip())
    return None


def test_tls_versions_and_suites(make_controller, tmp_path):
    """TLS 1.2 and 1.3 only; forward-secret AEAD suites only; the server's order wins."""
    cert, key = make_cert(str(tmp_path))
    ctl = make_controller("tls", extra_args=["--tls-cert", cert, "--tls-key", key], tls_ca=cert)
    old = "DEFAULT@SECLEVEL=0"
    refused = [("-tls1", "-cipher", old), ("-tls1_1", "-cipher", old),
               ("-tls1_2", "-cipher", "AES128-SHA@SECLEVEL=0"),        # static RSA, CBC
               ("-tls1_2", "-cipher", "AES128-GCM-SHA256"),            # static RSA
               ("-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"),         # CBC with SHA-1
               ("-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA256")]      # CBC
    for args in refused:
        assert s_client(ctl.port, *args) is None, args
    assert s_client(ctl.port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256") == \
        ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
    assert s_client(ctl.port, "-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305") == \
        ("TLSv1.2", "ECDHE-RSA-CHACHA20-POLY1305")
    # The client prefers AES-128; the server's own first choice is taken.
    assert s_client(ctl.port, "-tls1_2", "-cipher",
                    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384") == \
        ("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384")
    got = s_client(ctl.port, "-tls1_3")
    assert got and got[0] == "TLSv1.3", got
    assert ctl.get("/healthz", token=None).status == 200
