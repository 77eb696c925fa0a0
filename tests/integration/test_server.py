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
