"""kill -9 in the middle of a large import: after a restart the database passes
SQLite's integrity check and the import is either wholly there or wholly absent."""
import json
import subprocess
import threading
import time


N_SITES = 2000


def big_import():
    sites = [{"name": "crash-%04d" % i,
              "underlay": "100.64.%d.%d" % (i // 200, i % 200 + 1),
              "prefixes": ["10.%d.%d.0/24" % (i // 256, i % 256)],
              "tags": {"region": "r%d" % (i % 40)}}
             for i in range(N_SITES)]
    # Three regional meshes of 50 sites: some thousands of tunnels to materialise as well.
    return {"profiles": [{"name": "crash-p"}],
            "sites": sites,
            "topologies": [{"name": "crash-r%d" % r, "kind": "full-mesh", "profile": "crash-p",
                            "match_tags": {"region": "r%d" % r}} for r in range(3)]}


def count_sites(ctl):
    ex = ctl.export()
    return len([s for s in ex["sites"] if s["name"].startswith("crash-")]), ex


def integrity(db):
    out = subprocess.run(["sqlite3", db, "PRAGMA integrity_check;"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_kill9_during_large_import(make_controller, tmp_path):
    raw = json.dumps(big_import())
    # How long does the import take here (plain or sanitizer build)? Kill at fractions of it.
    probe = make_controller("probe")
    t0 = time.monotonic()
    r = probe.post("/v1/import", raw)
    took = time.monotonic() - t0
    assert r.status == 200, r
    assert r.json["changes"]["sites"]["created"] == N_SITES
    assert count_sites(probe)[0] == N_SITES

    outcomes = []
    for i, frac in enumerate((0.1, 0.4, 0.7, 0.95, 1.3)):
        ctl = make_controller("victim%d" % i)
        # Something committed before the import, which must survive whatever happens.
        assert ctl.post("/v1/sites", {"name": "keep", "underlay": "192.0.2.77"}).status == 201
        result = {}

        def send():
            try:
                result["r"] = ctl.post("/v1/import", raw, timeout=120)
            except OSError as e:       # the connection dies with the server
                result["err"] = e

        th = threading.Thread(target=send)
        th.start()
        time.sleep(took * frac)
        ctl.kill9()
        th.join(timeout=120)
        assert not th.is_alive()

        assert integrity(ctl.db) == "ok"
        ctl.start()         # same database, same token file
        assert integrity(ctl.db) == "ok"
        n, ex = count_sites(ctl)
        assert n in (0, N_SITES), "import partly present after kill -9: %d sites" % n
        assert "keep" in [s["name"] for s in ex["sites"]]
        if n:
            assert len([t for t in ex["topologies"] if t["name"].startswith("crash-")]) == 3
            assert [p["name"] for p in ex["profiles"]] == ["crash-p"]
        else:
            assert ex["topologies"] == [] and ex["profiles"] == []
            assert "r" not in result or result["r"].status != 200, \
                "the import was acknowledged but is gone after the crash"
        # The database is usable: the same import now goes through (or is a no-op).
        r = ctl.post("/v1/import", raw)
        assert r.status == 200, r
        assert count_sites(ctl)[0] == N_SITES
        assert ctl.stop() == 0
        outcomes.append(n)
        print("kill at %.2fs of %.2fs: %d sites after restart, reply %r" % (
            took * frac, took, n, result.get("r", result.get("err"))))
    # At least one kill must have hit before the commit, or the test proved nothing.
    assert 0 in outcomes, "every kill came after the commit: %r (import took %.2fs)" % (
        outcomes, took)
