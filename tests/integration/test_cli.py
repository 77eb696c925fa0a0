"""gresec, the operator CLI, against a real controller: every command, its tables and
--json output, error output and exit codes, paging, and that no secret is ever printed
except the token just issued. The binary is $GRESEC_BUILD/gresec."""
import json
import os
import subprocess

import pytest

from conftest import BUILD, free_port, site

CLI = os.path.join(BUILD, "gresec")
KINDS = ("sites", "profiles", "topologies", "tunnels")


def doc():
    return {
        "profiles": [{"name": "p1"}, {"name": "p2", "mode": "tunnel", "start": "always"}],
        "sites": [site("hub", 1, tags={"role": "hub"}),
                  site("s1", 2, tags={"role": "spoke"}),
                  site("s2", 3, tags={"role": "spoke"}, behind_nat=True,
                       nat_address="203.0.113.3"),
                  site("m1", 4), site("m2", 5)],
        "topologies": [{"name": "star", "kind": "hub-spoke", "profile": "p1",
                        "hubs": ["hub"], "match_tags": {"role": "spoke"}},
                       {"name": "mesh", "kind": "full-mesh", "profile": "p2",
                        "members": ["m1", "m2"], "tunnel_type": "vti"}],
        "tunnels": [{"name": "hub-m1", "a": "hub", "b": "m1", "profile": "p2"}],
    }


def run(ctl, *args, token="admin", env=None, input=None, url=None):
    """Runs gresec against ctl. token: "admin" (through GRESEC_TOKEN_FILE), None, or a
    secret (through GRESEC_TOKEN)."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("GRESEC_")}
    e["GRESEC_CONTROLLER"] = url or "http://127.0.0.1:%d" % ctl.port
    if token == "admin":
        e["GRESEC_TOKEN_FILE"] = ctl.token_file
    elif token is not None:
        e["GRESEC_TOKEN"] = token
    e.update(env or {})
    r = subprocess.run([CLI] + list(args), capture_output=True, text=True, env=e,
                       input=input, timeout=120)
    # A sanitizer report is a failure whatever the exit code says.
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    return r


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r


def rows(out):
    """A table's body rows as lists of cells (the header dropped)."""
    lines = out.strip("\n").split("\n")
    return [ln.split() for ln in lines[1:]]


def write(tmp_path, name, content):
    p = tmp_path / name
    p.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(p)


def loaded(ctl):
    r = ctl.post("/v1/import", doc())
    assert r.status == 200, r
    return ctl


def test_binary_is_built():
    assert os.access(CLI, os.X_OK) and os.path.getsize(CLI) > 0, CLI


def test_status_matches_the_api(ctl):
    loaded(ctl)
    st = ctl.get("/v1/status").json
    r = ok(run(ctl, "status"))
    assert "sites       5 total: 0 seen, 0 stale, 5 never" in r.stdout, r.stdout
    assert "tunnels     %d total: 0 up, 0 degraded, 0 idle, 0 down, %d pending" % (
        st["tunnels"]["total"], st["tunnels"]["total"]) in r.stdout, r.stdout
    assert json.loads(ok(run(ctl, "--json", "status")).stdout) == st
    # Global options may also follow the command.
    assert json.loads(ok(run(ctl, "status", "--json")).stdout) == st


def test_lists_tables_and_json(ctl):
    loaded(ctl)
    r = ok(run(ctl, "sites"))
    assert r.stdout.split("\n")[0].split() == ["NAME", "UNDERLAY", "NAT", "MTU", "PREFIXES", "TAGS"]
    table = {row[0]: row for row in rows(r.stdout)}
    assert sorted(table) == ["hub", "m1", "m2", "s1", "s2"]
    assert table["s2"][1:4] == [site("s2", 3)["underlay"], "yes", "1500"]
    assert table["hub"][5] == "role=hub" and table["m1"][5] == "-"
    assert ok(run(ctl, "sites", "list")).stdout == r.stdout
    # Columns line up: every row's second cell starts at the header's second column.
    lines = r.stdout.strip().split("\n")
    col = lines[0].index("UNDERLAY")
    assert all(ln[col - 2:col] == "  " and ln[col] != " " for ln in lines), r.stdout

    assert [row[0] for row in rows(ok(run(ctl, "profiles")).stdout)] == ["p1", "p2"]
    topo = {row[0]: row for row in rows(ok(run(ctl, "topologies")).stdout)}
    assert topo["star"][1:5] == ["hub-spoke", "gre", "p1", "hub"]
    assert topo["mesh"][1:6] == ["full-mesh", "vti", "p2", "-", "m1,m2"]

    for kind in ("sites", "profiles", "topologies"):
        got = json.loads(ok(run(ctl, "--json", kind)).stdout)
        assert got["next"] is None
        assert got["items"] == ctl.get("/v1/%s?limit=1000" % kind).json["items"]


def test_show_prints_the_object_and_site_status(ctl):
    loaded(ctl)
    r = ok(run(ctl, "sites", "show", "s2"))
    fields = dict(ln.split(None, 1) for ln in r.stdout.strip().split("\n"))
    assert fields["underlay"] == site("s2", 3)["underlay"]
    assert fields["behind_nat"] == "yes" and fields["tags"] == "role=spoke"
    assert fields["intent_revision"] == str(ctl.get("/v1/sites/s2").json["status"]["intent_revision"])
    assert fields["agent"] == "never reported"
    assert json.loads(ok(run(ctl, "--json", "sites", "show", "s2")).stdout) == \
        ctl.get("/v1/sites/s2").json

    r = ok(run(ctl, "profiles", "show", "p2"))
    fields = dict(ln.split(None, 1) for ln in r.stdout.strip().split("\n"))
    assert fields["mode"] == "tunnel" and fields["start"] == "always"
    assert fields["esp_proposals"] == ", ".join(ctl.get("/v1/profiles/p2").json["esp_proposals"])
    r = ok(run(ctl, "topologies", "show", "mesh"))
    assert "members" in r.stdout and "m1, m2" in r.stdout, r.stdout


def test_show_reports_an_agent_that_reported(ctl):
    loaded(ctl)
    intent = ctl.get("/v1/agents/m2/intent").json
    r = ctl.post("/v1/agents/m2/status", {"revision": intent["revision"], "tunnels": []})
    assert r.status == 204, r
    out = ok(run(ctl, "sites", "show", "m2")).stdout
    assert "applied revision %d" % intent["revision"] in out and "fresh" in out, out
    assert "1 seen" in ok(run(ctl, "status")).stdout


def test_delete(ctl):
    loaded(ctl)
    r = run(ctl, "sites", "delete", "m1")
    assert r.returncode == 1, r
    # A 409 lists every referrer, one per line.
    assert "(HTTP 409 conflict)" in r.stderr, r.stderr
    assert "\n  topologies/mesh.members[0]: " in r.stderr, r.stderr
    assert "\n  tunnels/hub-m1.b: " in r.stderr, r.stderr
    assert ctl.get("/v1/sites/m1").status == 200
    assert ok(run(ctl, "topologies", "delete", "mesh")).stdout == "deleted topology mesh\n"
    assert ctl.get("/v1/topologies/mesh").status == 404
    r = run(ctl, "profiles", "delete", "nosuch")
    assert r.returncode == 1 and "HTTP 404 not_found" in r.stderr, r.stderr


def test_paging_beyond_one_page(ctl, tmp_path):
    big = {"sites": [site("n%03d" % i, i + 10) for i in range(150)]}
    r = ok(run(ctl, "import", write(tmp_path, "big.json", big)))
    assert "imported (merge): 150 created, 0 updated, 0 deleted" in r.stdout, r.stdout
    assert "created sites: n000, n001," in r.stdout and "n149" in r.stdout
    names = [row[0] for row in rows(ok(run(ctl, "sites")).stdout)]
    assert names == ["n%03d" % i for i in range(150)]
    got = json.loads(ok(run(ctl, "--json", "sites")).stdout)
    assert [s["name"] for s in got["items"]] == names
    # The API's first page stops at 100: the CLI walked past it.
    assert ctl.get("/v1/sites").json["next"] == "n099"

    mesh = {"profiles": [{"name": "p"}],
            "topologies": [{"name": "m", "kind": "full-mesh", "profile": "p",
                            "members": names[:16]}]}
    ok(run(ctl, "import", write(tmp_path, "mesh.json", mesh)))
    tunnels = ctl.all_tunnels()
    assert len(tunnels) == 120
    got = json.loads(ok(run(ctl, "--json", "tunnels")).stdout)["items"]
    assert [t["id"] for t in got] == [t["id"] for t in tunnels]
    assert len(rows(ok(run(ctl, "tunnels")).stdout)) == 120


def test_tunnels_table(ctl):
    loaded(ctl)
    all_t = ctl.all_tunnels()
    r = ok(run(ctl, "tunnels"))
    assert r.stdout.split("\n")[0].split() == ["ID", "A", "B", "KIND", "PROFILE", "STATE",
                                               "A-END", "B-END", "SOURCE"]
    table = rows(r.stdout)
    assert [int(row[0]) for row in table] == [t["id"] for t in all_t]
    for row, t in zip(table, all_t):
        assert row[1:] == [t["a"], t["b"], t["tunnel_type"], t["profile"],
                           t["state"]["overall"], "-", "-", t["source"]]
    explicit = [row for row in table if row[8] == "tunnel/hub-m1"]
    assert len(explicit) == 1 and explicit[0][3] == "gre" and explicit[0][4] == "p2"
    r = ok(run(ctl, "tunnels", "--site", "m2"))
    assert sorted(int(row[0]) for row in rows(r.stdout)) == \
        sorted(t["id"] for t in ctl.all_tunnels("m2"))
    got = json.loads(ok(run(ctl, "--json", "tunnels", "--site", "hub")).stdout)
    assert [t["id"] for t in got["items"]] == [t["id"] for t in ctl.all_tunnels("hub")]
    r = run(ctl, "tunnels", "--site", "nosuch")
    assert r.returncode in (0, 1), r      # an empty list or a 404, never a crash


def test_tunnels_and_status_show_liveness(ctl):
    loaded(ctl)
    (t,) = [t for t in ctl.all_tunnels("m1") if t["source"] == "tunnel/hub-m1"]
    tid, a, b = "gs%d" % t["id"], t["a"], t["b"]
    down = {"state": "down", "since": "2026-11-30T23:59:59Z", "flaps": 3,
            "reason": "bfd-timeout", "forwarding": False, "bfd": "down"}
    r = ctl.post("/v1/agents/%s/status" % a, {"revision": 1, "tunnels": [
        {"id": tid, "interface": "up", "ike": "established", "child": "installed",
         "liveness": down}]})
    assert r.status == 204, r
    # b's agent predates BFD: no liveness, its CHILD_SA state instead.
    r = ctl.post("/v1/agents/%s/status" % b, {"revision": 1, "tunnels": [
        {"id": tid, "interface": "up", "ike": "none", "child": "none"}]})
    assert r.status == 204, r
    (row,) = [row for row in rows(ok(run(ctl, "tunnels")).stdout) if row[0] == str(t["id"])]
    assert row[5:8] == ["down", "down,nofwd,flaps=3,bfd-timeout", "child=none"], row
    up = dict(down, state="up", forwarding=True, reason=None, bfd="up", flaps=0)
    r = ctl.post("/v1/agents/%s/status" % a, {"revision": 1, "tunnels": [
        {"id": tid, "interface": "up", "ike": "established", "child": "installed",
         "liveness": up}]})
    assert r.status == 204, r
    (row,) = [row for row in rows(ok(run(ctl, "tunnels")).stdout) if row[0] == str(t["id"])]
    assert row[5:7] == ["up", "up,fwd,flaps=0"], row
    # --json passes the API's answer through, liveness and all.
    got = json.loads(ok(run(ctl, "--json", "tunnels", "--site", a)).stdout)["items"]
    (mine,) = [x for x in got if x["id"] == t["id"]]
    assert mine["state"][a]["liveness"] == up and mine["state"]["overall"] == "up"
    # Only b reports idle for a tunnel of its own: the status line counts it.
    ctl.post("/v1/agents/%s/status" % a, {"revision": 1, "tunnels": []})
    st = ctl.get("/v1/status").json["tunnels"]
    assert st["idle"] == 1, st
    assert "0 up, 0 degraded, 1 idle, 0 down, %d pending" % (st["total"] - 1) in \
        ok(run(ctl, "status")).stdout


def test_import_422_lists_every_path(ctl, tmp_path):
    bad = {"sites": [site("a1", 1), {"name": "a2", "underlay": "300.1.1.1"},
                     {"name": "A3", "underlay": "198.18.9.9", "prefixes": ["10.9.0.1/16"]}]}
    f = write(tmp_path, "bad.json", bad)
    r = run(ctl, "import", f)
    assert r.returncode == 1, r
    lines = r.stderr.strip().split("\n")
    assert lines[0].startswith("gresec: ") and lines[0].endswith("(HTTP 422 invalid)"), lines
    details = [ln for ln in lines[1:] if ln.startswith("  ")]
    paths = [ln.strip().split(": ", 1)[0] for ln in details]
    assert "sites[1].underlay" in paths and "sites[2].name" in paths, r.stderr
    assert "sites[2].prefixes[0]" in paths, r.stderr
    assert "  sites[1].underlay: not an IPv4 or IPv6 address" in lines, r.stderr
    assert r.stdout == ""
    assert ctl.get("/v1/sites").json["items"] == []      # nothing written

    # With --json the API's error is on stdout, for scripts.
    r = run(ctl, "--json", "import", f)
    assert r.returncode == 1
    e = json.loads(r.stdout)["error"]
    assert e["status"] == 422 and e["code"] == "invalid"
    assert {d["path"] for d in e["details"]} >= {"sites[1].underlay", "sites[2].name"}

    csv = "name,underlay,prefixes\nc1,198.18.0.1,10.50.0.0/16\nc2,1.2.3,\n"
    r = run(ctl, "import", write(tmp_path, "bad.csv", csv))
    assert r.returncode == 1 and "\n  line 3.underlay: " in r.stderr, r.stderr


def test_import_csv_dry_run_and_replace(ctl, tmp_path):
    loaded(ctl)
    csv = "name,underlay,prefixes,tags\nc1,198.18.50.1,10.60.0.0/16,role=spoke\n"
    # No .csv extension: the content decides.
    r = ok(run(ctl, "import", write(tmp_path, "sites.txt", csv)))
    assert "created sites: c1" in r.stdout, r.stdout
    assert ctl.get("/v1/sites/c1").json["tags"] == {"role": "spoke"}
    # From stdin.
    r = ok(run(ctl, "import", "-", input=json.dumps({"sites": [site("c2", 60)]})))
    assert "created sites: c2" in r.stdout

    keep = {"sites": [s for s in doc()["sites"]]}
    f = write(tmp_path, "keep.json", keep)
    r = ok(run(ctl, "import", f, "--replace", "--dry-run"))
    assert r.stdout.startswith("dry run, nothing written (replace): 0 created, 0 updated, 2 deleted")
    assert "deleted sites: c1, c2" in r.stdout, r.stdout
    table = {row[0]: row[1:] for row in rows(r.stdout.split("\n", 1)[1]) if row and row[0] in KINDS}
    assert table["sites"] == ["0", "0", "2", "5"], r.stdout
    assert ctl.get("/v1/sites/c1").status == 200
    r = ok(run(ctl, "import", "--replace", f))
    assert "deleted sites: c1, c2" in r.stdout
    assert ctl.get("/v1/sites/c1").status == 404
    assert json.loads(ok(run(ctl, "--json", "import", f)).stdout)["totals"] == \
        {"created": 0, "updated": 0, "deleted": 0}


def test_export_round_trip(ctl, tmp_path):
    loaded(ctl)
    out = str(tmp_path / "backup.json")
    r = ok(run(ctl, "export", "-o", out))
    assert r.stdout == ""
    with open(out) as f:
        assert json.load(f) == ctl.export()
    assert [p for p in os.listdir(str(tmp_path)) if p.startswith("backup.json.")] == []
    assert json.loads(ok(run(ctl, "export")).stdout) == ctl.export()
    r = ok(run(ctl, "import", "--replace", out))
    assert "imported (replace): 0 created, 0 updated, 0 deleted" in r.stdout, r.stdout
    r = run(ctl, "export", "-o", str(tmp_path / "nodir" / "x.json"))
    assert r.returncode == 1 and "cannot write" in r.stderr


def test_tokens_issue_list_revoke(ctl):
    r = ok(run(ctl, "tokens", "issue", "noc-bot", "viewer"))
    secret = r.stdout.strip()
    ctl.secrets.add(secret)
    assert r.stdout == secret + "\n" and secret.startswith("gst_"), r.stdout
    assert secret not in r.stderr and "noc-bot" in r.stderr
    assert ctl.get("/v1/status", token=secret).status == 200
    listing = rows(ok(run(ctl, "tokens")).stdout)
    mine = [row for row in listing if row[1] == "noc-bot"]
    assert len(mine) == 1 and mine[0][2] == "viewer" and mine[0][5] == "-"
    tid = mine[0][0]
    got = json.loads(ok(run(ctl, "--json", "tokens", "list")).stdout)["items"]
    assert {str(t["id"]) for t in got} == {row[0] for row in listing}
    assert all("token" not in t for t in got)
    r = ok(run(ctl, "tokens", "revoke", tid))
    assert ctl.get("/v1/status", token=secret).status == 401
    revoked = [row for row in rows(ok(run(ctl, "tokens")).stdout) if row[0] == tid]
    assert revoked[0][5] != "-", revoked
    # The revoked token, used by the CLI: a 401, and the token is not echoed.
    r = run(ctl, "status", token=secret)
    assert r.returncode == 1 and "HTTP 401" in r.stderr and secret not in r.stderr + r.stdout
    r = run(ctl, "tokens", "issue", "x", "superuser")
    assert r.returncode == 1 and "HTTP 422" in r.stderr and r.stdout == ""


def test_agent_token(ctl):
    loaded(ctl)
    r = ok(run(ctl, "agent-token", "s1"))
    secret = r.stdout.strip()
    ctl.secrets.add(secret)
    assert r.stdout == secret + "\n" and secret not in r.stderr
    assert "agent-s1" in r.stderr and "site s1" in r.stderr
    assert ctl.get("/v1/agents/s1/intent", token=secret).status == 200
    assert ctl.get("/v1/agents/s2/intent", token=secret).status == 403
    got = json.loads(ok(run(ctl, "--json", "agent-token", "s2")).stdout)
    ctl.secrets.add(got["token"])
    assert got["site"] == "s2" and got["role"] == "agent"
    r = run(ctl, "agent-token", "nosuch")
    assert r.returncode == 1 and "HTTP 404" in r.stderr


def test_audit(ctl):
    loaded(ctl)
    for i in range(120):      # more than one page of the log
        assert ctl.patch("/v1/sites/m1", {"underlay_mtu": 1300 + i}).status == 200
    log = []
    after = None
    while True:
        page = ctl.get("/v1/audit?limit=1000" + ("&after=%d" % after if after else "")).json
        log += page["items"]
        after = page["next"]
        if after is None:
            break
    r = ok(run(ctl, "audit", "--limit", "3"))
    assert r.stdout.split("\n")[0].split() == ["ID", "TIME", "ACTOR", "ACTION", "KIND", "NAME"]
    table = rows(r.stdout)
    assert [int(row[0]) for row in table] == [a["id"] for a in log[-3:]]
    assert table[-1][2:] == [log[-1]["actor"], "update", "site", "m1"]
    assert len(rows(ok(run(ctl, "audit")).stdout)) == 20
    got = json.loads(ok(run(ctl, "--json", "audit", "--limit", "1000")).stdout)["items"]
    assert got == log[-1000:]


def test_exit_codes_and_usage(ctl):
    usage = [[], ["nosuch"], ["sites", "show"], ["sites", "frob"], ["sites", "--site", "x"],
             ["audit", "--limit", "0"], ["audit", "--limit", "x"], ["tokens", "revoke", "abc"],
             ["tokens", "issue", "x"], ["import"], ["export", "extra"], ["--bogus", "status"],
             ["tunnels", "--site"], ["status", "extra"]]
    for args in usage:
        r = run(ctl, *args)
        assert r.returncode == 2, (args, r)
        assert r.stderr and r.stdout == "", (args, r)
    for args in (["-h"], ["--help"], ["help"], ["sites", "-h"], ["help", "import"]):
        r = ok(run(ctl, *args))
        assert r.stdout.startswith("Usage: gresec"), (args, r.stdout)
    assert "import FILE [--replace] [--dry-run]" in ok(run(ctl, "import", "--help")).stdout
    # Cannot reach: nothing listens there.
    r = run(ctl, "status", url="http://127.0.0.1:%d" % free_port())
    assert r.returncode == 3 and "cannot reach the controller" in r.stderr, r
    r = run(ctl, "status", url="ftp://127.0.0.1:1")
    assert r.returncode == 2
    # Refused by the API: no token, a viewer writing.
    r = run(ctl, "sites", token=None)
    assert r.returncode == 1 and "HTTP 401" in r.stderr and "GRESEC_TOKEN" in r.stderr
    viewer = ctl.issue("viewer")
    r = run(ctl, "import", "-", token=viewer, input='{"sites":[]}')
    assert r.returncode == 1 and "HTTP 403" in r.stderr, r
    r = run(ctl, "import", "/nonexistent/doc.json")
    assert r.returncode == 1 and "cannot read" in r.stderr


def test_token_sources(ctl, tmp_path):
    f = tmp_path / "tok"
    f.write_text("\n  %s  \n" % ctl.admin)
    ok(run(ctl, "--token-file", str(f), "sites", token=None))
    ok(run(ctl, "sites", token=None, env={"GRESEC_TOKEN_FILE": str(f)}))
    ok(run(ctl, "sites", token=ctl.admin))
    # --token-file wins over the environment.
    r = run(ctl, "--token-file", str(f), "sites", token="gst_wrong")
    ok(r)
    r = run(ctl, "--token-file", str(tmp_path / "missing"), "sites")
    assert r.returncode == 1 and "cannot read token file" in r.stderr
    f.write_text("two words\n")
    r = run(ctl, "--token-file", str(f), "sites")
    assert r.returncode == 1 and "two" not in r.stderr


def test_no_secret_is_printed(ctl, tmp_path):
    loaded(ctl)
    viewer = ctl.issue("viewer", "v1")
    agent = ctl.post("/v1/sites/s1/agent-token").json["token"]
    ctl.secrets.add(agent)
    psks = [t["psk"] for t in ctl.get("/v1/agents/s1/intent").json["tunnels"] if t.get("psk")]
    secrets = set(ctl.secrets) | set(psks)
    assert len(secrets) >= 3
    cmds = [["status"], ["sites"], ["sites", "show", "s1"], ["profiles"], ["topologies"],
            ["topologies", "show", "star"], ["tunnels"], ["tunnels", "--site", "s1"],
            ["export"], ["tokens"], ["audit", "--limit", "1000"], ["sites", "show", "nosuch"],
            ["import", write(tmp_path, "d.json", doc())], ["sites", "delete", "hub"]]
    for args in cmds:
        for tok in ("admin", viewer):
            for js in ([], ["--json"]):
                r = run(ctl, *(js + args), token=tok)
                text = r.stdout + r.stderr
                for s in secrets:
                    assert s not in text, (args, tok == viewer, js)
    # The one exception: the token just issued, and only it.
    r = ok(run(ctl, "tokens", "issue", "fresh", "operator"))
    ctl.secrets.add(r.stdout.strip())
    for s in secrets:
        assert s not in r.stdout + r.stderr


def make_cert(d):
    key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def test_https_with_ca(make_controller, tmp_path):
    cert, key = make_cert(str(tmp_path))
    ctl = make_controller("tls", ["--tls-cert", cert, "--tls-key", key], tls_ca=cert)
    url = "https://127.0.0.1:%d" % ctl.port
    r = ok(run(ctl, "--ca", cert, "status", url=url))
    assert "sites       0 total" in r.stdout
    # Not trusted without the CA, or with another one: no answer, exit 3.
    os.mkdir(str(tmp_path / "other"))
    other, _ = make_cert(str(tmp_path / "other"))
    for extra in (["--ca", other], []):
        r = run(ctl, *(extra + ["status"]), url=url,
                env={"SSL_CERT_FILE": other, "SSL_CERT_DIR": str(tmp_path / "other")})
        assert r.returncode == 3, r
        assert "cannot reach the controller" in r.stderr


@pytest.mark.parametrize("kind", ["sites", "profiles", "topologies"])
def test_show_and_delete_need_a_name(ctl, kind):
    assert run(ctl, kind, "delete").returncode == 2
    assert run(ctl, kind, "show", "a", "b").returncode == 2
