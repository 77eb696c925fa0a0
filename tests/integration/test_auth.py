"""Tokens and roles: 401 without a valid token, 403 for a role that may not, revocation,
the admin token file, and secrets kept out of the log."""
import os
import stat
import subprocess

from conftest import BINARY, Controller, assert_error, free_port, site

WRITES = [("POST", "/v1/sites", site("w", 9)),
          ("PUT", "/v1/sites/w", site("w", 9)),
          ("PATCH", "/v1/sites/a", {"description": "x"}),
          ("DELETE", "/v1/sites/a", None),
          ("POST", "/v1/profiles", {"name": "p2"}),
          ("POST", "/v1/import", {"sites": [site("w", 9)]})]
TOKEN_ROUTES = [("GET", "/v1/tokens", None),
                ("POST", "/v1/tokens", {"name": "x", "role": "viewer"}),
                ("DELETE", "/v1/tokens/1", None)]


def test_no_token_is_401(ctl):
    for method, path, body in [("GET", "/v1/sites", None), ("GET", "/v1/export", None),
                               ("GET", "/v1/tunnels", None), ("GET", "/v1/audit", None)] \
            + WRITES + TOKEN_ROUTES:
        assert_error(ctl.request(method, path, body, token=None), 401, "unauthorized")


def test_bad_token_is_401(ctl):
    for bad in ("gst_not-a-real-token", ctl.admin + "x", ctl.admin[:-1], "x"):
        assert_error(ctl.get("/v1/sites", token=bad), 401, "unauthorized")
    for header in ("Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer ", ctl.admin,
                   "Token " + ctl.admin):
        r = ctl.request("GET", "/v1/sites", token=None, headers={"Authorization": header})
        assert_error(r, 401, "unauthorized")
    assert_error(ctl.post("/v1/sites", site("a", 1), token="gst_bogus"), 401)
    assert_error(ctl.get("/v1/sites/a"), 404)


def test_viewer_reads_but_cannot_write(ctl):
    assert ctl.post("/v1/sites", site("a", 1)).status == 201
    viewer = ctl.issue("viewer", "ro")
    for path in ("/v1/sites", "/v1/sites/a", "/v1/profiles", "/v1/topologies", "/v1/tunnels",
                 "/v1/export", "/v1/audit"):
        r = ctl.get(path, token=viewer)
        assert r.status == 200, (path, r)
    for method, path, body in WRITES + TOKEN_ROUTES + [("GET", "/v1/_routes", None)]:
        assert_error(ctl.request(method, path, body, token=viewer), 403, "forbidden")
    assert [s["name"] for s in ctl.get("/v1/sites").json["items"]] == ["a"]
    assert ctl.get("/v1/sites/a").json["description"] == ""


def test_operator_writes_but_cannot_manage_tokens(ctl):
    op = ctl.issue("operator", "noc-bot")
    assert ctl.post("/v1/sites", site("a", 1), token=op).status == 201
    assert ctl.patch("/v1/sites/a", {"description": "x"}, token=op).status == 200
    assert ctl.post("/v1/import", {"sites": [site("b", 2)]}, token=op).status == 200
    assert ctl.delete("/v1/sites/b", token=op).status == 204
    for method, path, body in TOKEN_ROUTES + [("GET", "/v1/_routes", None)]:
        assert_error(ctl.request(method, path, body, token=op), 403, "forbidden")
    # Its 403 on POST /v1/tokens issued nothing.
    names = [t["name"] for t in ctl.get("/v1/tokens").json["items"]]
    assert "x" not in names


def test_issue_list_revoke(ctl):
    r = ctl.post("/v1/tokens", {"name": "noc-bot", "role": "operator"})
    assert r.status == 201, r
    issued = r.json
    assert issued["name"] == "noc-bot" and issued["role"] == "operator"
    assert issued["token"].startswith("gst_") and len(issued["token"]) >= 20
    assert isinstance(issued["id"], int)
    op = issued["token"]
    ctl.secrets.add(op)
    assert ctl.get("/v1/sites", token=op).status == 200

    listing = ctl.get("/v1/tokens")
    assert listing.status == 200
    assert op not in listing.body.decode(), "a token secret must be shown only once"
    mine = [t for t in listing.json["items"] if t["id"] == issued["id"]]
    assert len(mine) == 1 and mine[0]["revoked_at"] is None
    assert mine[0]["role"] == "operator" and mine[0]["created_at"]

    assert ctl.delete("/v1/tokens/%d" % issued["id"]).status == 204
    assert_error(ctl.get("/v1/sites", token=op), 401, "unauthorized")
    assert_error(ctl.post("/v1/sites", site("a", 1), token=op), 401, "unauthorized")
    mine = [t for t in ctl.get("/v1/tokens").json["items"] if t["id"] == issued["id"]]
    assert mine[0]["revoked_at"], mine
    # Revoking twice: nothing left to revoke.
    assert_error(ctl.delete("/v1/tokens/%d" % issued["id"]), 404, "not_found")
    assert_error(ctl.delete("/v1/tokens/abc"), 404)


def test_token_request_validation(ctl):
    for body in ({"name": "x", "role": "root"}, {"name": "x"}, {"role": "viewer"},
                 {"name": "x", "role": "viewer", "extra": 1}):
        assert_error(ctl.post("/v1/tokens", body), 422, "invalid")
    assert_error(ctl.post("/v1/tokens", "{"), 400, "bad_request")


def test_two_tokens_are_distinct(ctl):
    a = ctl.issue("viewer", "same")
    b = ctl.issue("viewer", "same")
    assert a != b


def test_admin_token_file(ctl, make_controller):
    st = os.stat(ctl.token_file)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert ctl.admin and len(ctl.admin) >= 20
    assert ctl.get("/v1/tokens").status == 200
    # The log says where the token is, never what it is.
    log = ctl.log()
    assert ctl.token_file in log, log
    # A restart on the same database keeps the token (it is not issued again).
    ctl.stop()
    again = Controller(ctl.workdir).start()
    try:
        assert again.admin == ctl.admin
        assert again.get("/v1/tokens", token=ctl.admin).status == 200
    finally:
        assert again.stop() == 0


def test_default_token_file_is_beside_the_database(tmp_path):
    workdir = tmp_path / "d"
    os.makedirs(workdir)
    db = str(workdir / "gresec.db")
    port = free_port()
    proc = subprocess.Popen([BINARY, "--db", db, "--listen", "127.0.0.1:%d" % port],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    c = Controller(workdir)
    c.proc, c.port = proc, port
    try:
        assert c._wait_healthy(), "controller did not start"
        files = [f for f in os.listdir(workdir) if "token" in f]
        assert len(files) == 1, os.listdir(workdir)
        path = os.path.join(workdir, files[0])
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path) as f:
            secret = f.read().strip()
        assert c.get("/v1/tokens", token=secret).status == 200
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out
    assert path.encode() in out or files[0].encode() in out, out
    assert secret.encode() not in out


def test_tokens_never_logged(make_controller):
    c = make_controller("loud", extra_args=["--log-level", "debug"])
    op = c.issue("operator", "noc-bot")
    viewer = c.issue("viewer", "ro")
    c.post("/v1/sites", site("a", 1), token=op)
    c.post("/v1/sites", site("a", 1), token=op)            # 409
    c.post("/v1/sites", {"name": "b", "underlay": "x"}, token=op)   # 422
    c.post("/v1/sites", site("c", 3), token=viewer)         # 403
    bogus = "gst_bogus-secret-for-the-log-test"
    c.secrets.add(bogus)
    c.get("/v1/sites", token=bogus)                         # 401
    c.get("/v1/sites", token=None, headers={"Authorization": "Bearer " + bogus + "2"})
    c.secrets.add(bogus + "2")
    tid = [t["id"] for t in c.get("/v1/tokens").json["items"] if t["name"] == "ro"][0]
    c.delete("/v1/tokens/%d" % tid)
    c.get("/v1/sites", token=viewer)                        # 401, revoked
    assert c.stop() == 0
    log = c.log()
    assert log.strip(), "the controller logged nothing at debug level"
    for secret in c.secrets:
        assert secret not in log, "a token secret appears in the log"
        # Nor a large piece of it (e.g. a prefix printed for debugging).
        body = secret[4:] if secret.startswith("gst_") else secret
        assert body[:12] not in log, "a piece of a token secret appears in the log"
    # Nor in the audit log or anything else a viewer or operator can read.
    c.start()
    audit = c.get("/v1/audit?limit=1000").body.decode()
    for secret in c.secrets:
        assert secret not in audit


def test_token_paging(ctl):
    ids = [ctl.post("/v1/tokens", {"name": "t%d" % i, "role": "viewer"}).json["id"]
           for i in range(4)]
    seen, after = [], None
    for _ in range(10):
        r = ctl.get("/v1/tokens?limit=2" + ("&after=%d" % after if after is not None else ""))
        assert r.status == 200, r
        assert len(r.json["items"]) <= 2
        seen += [t["id"] for t in r.json["items"]]
        after = r.json["next"]
        if after is None:
            break
    assert seen == sorted(seen) and set(ids) <= set(seen) and len(seen) == 5
