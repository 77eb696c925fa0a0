"""Materialised tunnels: one per joined pair, stable identifiers, filtering and paging."""
from conftest import assert_error, site

IDS = ("id", "key", "reqid", "interfaces")


def pair(t):
    return tuple(sorted((t["a"], t["b"])))


def by_pair(tunnels):
    out = {}
    for t in tunnels:
        assert pair(t) not in out, "pair %s materialised twice" % (pair(t),)
        out[pair(t)] = t
    return out


def world(ctl, n=6, region="eu"):
    body = {"profiles": [{"name": "p1"}, {"name": "p2", "mode": "tunnel"}],
            "sites": [site("%s%d" % (region, i), i + 1, tags={"region": region})
                      for i in range(n)]}
    r = ctl.post("/v1/import", body)
    assert r.status == 200, r


def test_full_mesh_and_hub_spoke_pairs(ctl):
    world(ctl, 6)
    assert ctl.post("/v1/topologies", {"name": "mesh", "kind": "full-mesh", "profile": "p1",
                                       "members": ["eu0", "eu1", "eu2", "eu3"]}).status == 201
    pairs = set(by_pair(ctl.all_tunnels()))
    assert pairs == {("eu0", "eu1"), ("eu0", "eu2"), ("eu0", "eu3"), ("eu1", "eu2"),
                     ("eu1", "eu3"), ("eu2", "eu3")}
    assert ctl.delete("/v1/topologies/mesh").status == 204
    assert ctl.all_tunnels() == []
    # Two hubs: every hub with every other member, and the hubs with each other.
    assert ctl.post("/v1/topologies", {"name": "star", "kind": "hub-spoke", "profile": "p1",
                                       "hubs": ["eu0", "eu1"],
                                       "members": ["eu2", "eu3", "eu4"]}).status == 201
    pairs = set(by_pair(ctl.all_tunnels()))
    assert pairs == {("eu0", "eu1"), ("eu0", "eu2"), ("eu0", "eu3"), ("eu0", "eu4"),
                     ("eu1", "eu2"), ("eu1", "eu3"), ("eu1", "eu4")}, pairs


def test_tunnel_shape(ctl):
    world(ctl, 3)
    assert ctl.post("/v1/topologies", {"name": "mesh", "kind": "full-mesh", "profile": "p2",
                                       "tunnel_type": "vti",
                                       "match_tags": {"region": "eu"}}).status == 201
    ts = ctl.all_tunnels()
    assert len(ts) == 3
    keys, reqids, ifnames = set(), set(), set()
    for t in ts:
        assert t["origin"] == "topology" and t["sources"] == ["topology/mesh"], t
        assert t["tunnel_type"] == "vti" and t["profile"] == "p2", t
        assert isinstance(t["id"], int) and isinstance(t["key"], int)
        assert isinstance(t["reqid"], int)
        assert t["name"] is None, "only explicit tunnels have a name"
        assert set(t["interfaces"]) == {t["a"], t["b"]}, t
        for ifname in t["interfaces"].values():
            assert 0 < len(ifname) <= 15, "interface names must fit IFNAMSIZ"
        keys.add(t["key"])
        reqids.add(t["reqid"])
        ifnames |= {(s, i) for s, i in t["interfaces"].items()}
        assert "psk" not in t or t["psk"] != "", t
    assert len(keys) == 3 and len(reqids) == 3, "GRE keys and reqids must be unique"
    # An interface name is unique on its site.
    per_site = {}
    for s, i in ifnames:
        assert i not in per_site.setdefault(s, set()), (s, i)
        per_site[s].add(i)


def test_two_topologies_joining_the_same_pair_yield_one_tunnel(ctl):
    world(ctl, 4)
    assert ctl.post("/v1/topologies", {"name": "b-mesh", "kind": "full-mesh", "profile": "p1",
                                       "members": ["eu0", "eu1", "eu2"]}).status == 201
    assert ctl.post("/v1/topologies", {"name": "a-star", "kind": "hub-spoke", "profile": "p2",
                                       "hubs": ["eu0"],
                                       "members": ["eu1", "eu3"]}).status == 201
    tunnels = by_pair(ctl.all_tunnels())
    assert set(tunnels) == {("eu0", "eu1"), ("eu0", "eu2"), ("eu1", "eu2"), ("eu0", "eu3")}
    shared = tunnels[("eu0", "eu1")]
    assert sorted(shared["sources"]) == ["topology/a-star", "topology/b-mesh"], shared
    # The first topology by name wins.
    assert shared["profile"] == "p2", shared
    # Removing one of them keeps the pair joined, with the same identifiers.
    assert ctl.delete("/v1/topologies/a-star").status == 204
    after = by_pair(ctl.all_tunnels())
    assert set(after) == {("eu0", "eu1"), ("eu0", "eu2"), ("eu1", "eu2")}
    for k in IDS:
        assert after[("eu0", "eu1")][k] == shared[k], k
    assert after[("eu0", "eu1")]["sources"] == ["topology/b-mesh"]
    assert after[("eu0", "eu1")]["profile"] == "p1"


def test_explicit_tunnel_wins_over_topology(ctl):
    world(ctl, 3)
    assert ctl.post("/v1/topologies", {"name": "mesh", "kind": "full-mesh", "profile": "p1",
                                       "match_tags": {"region": "eu"}}).status == 201
    before = by_pair(ctl.all_tunnels())
    assert ctl.post("/v1/tunnels", {"name": "x1", "a": "eu1", "b": "eu0", "profile": "p2",
                                    "tunnel_type": "vti"}).status == 201
    after = by_pair(ctl.all_tunnels())
    assert set(after) == set(before)
    t = after[("eu0", "eu1")]
    assert t["origin"] == "explicit" and t["profile"] == "p2" and t["tunnel_type"] == "vti"
    assert sorted(t["sources"]) == ["topology/mesh", "tunnel/x1"], t
    assert t["name"] == "x1" and t["source"] == "tunnel/x1", t
    for k in IDS:
        assert t[k] == before[("eu0", "eu1")][k], k
    # The definition itself is at /v1/tunnels/{name}.
    d = ctl.get("/v1/tunnels/x1")
    assert d.status == 200 and d.json["a"] == "eu1" and d.json["b"] == "eu0"


def test_identifiers_stable_when_unrelated_sites_come_and_go(ctl):
    world(ctl, 5)
    assert ctl.post("/v1/topologies", {"name": "mesh", "kind": "full-mesh", "profile": "p1",
                                       "match_tags": {"region": "eu"}}).status == 201
    base = by_pair(ctl.all_tunnels())
    assert len(base) == 10

    def check(now):
        for p, t in base.items():
            assert p in now, p
            for k in IDS:
                assert now[p][k] == t[k], (p, k, t[k], now[p][k])

    # An unrelated site, and a second topology over unrelated sites.
    assert ctl.post("/v1/sites", site("us0", 100, tags={"region": "us"})).status == 201
    assert ctl.post("/v1/sites", site("us1", 101, tags={"region": "us"})).status == 201
    assert ctl.post("/v1/topologies", {"name": "us", "kind": "full-mesh", "profile": "p1",
                                       "match_tags": {"region": "us"}}).status == 201
    check(by_pair(ctl.all_tunnels()))
    assert ctl.delete("/v1/topologies/us").status == 204
    assert ctl.delete("/v1/sites/us0").status == 204
    check(by_pair(ctl.all_tunnels()))
    # A site that sorts first and joins the mesh adds its pairs and disturbs no other.
    assert ctl.post("/v1/sites", site("aa", 102, tags={"region": "eu"})).status == 201
    now = by_pair(ctl.all_tunnels())
    assert len(now) == 15
    check(now)
    new_ids = {now[p]["id"] for p in now if "aa" in p}
    assert new_ids.isdisjoint({t["id"] for t in base.values()})
    assert ctl.delete("/v1/sites/aa").status == 204
    now = by_pair(ctl.all_tunnels())
    assert set(now) == set(base)
    check(now)
    # An unrelated change to a member (its description) keeps everything, too.
    assert ctl.patch("/v1/sites/eu2", {"description": "x"}).status == 200
    check(by_pair(ctl.all_tunnels()))
    # And a re-import of the export.
    assert ctl.post("/v1/import?mode=replace", ctl.export()).status == 200
    check(by_pair(ctl.all_tunnels()))


def test_identifiers_survive_a_restart(ctl):
    world(ctl, 4)
    assert ctl.post("/v1/topologies", {"name": "mesh", "kind": "full-mesh", "profile": "p1",
                                       "match_tags": {"region": "eu"}}).status == 201
    before = ctl.all_tunnels()
    assert ctl.stop() == 0
    ctl.start()
    assert ctl.all_tunnels() == before


def test_ids_are_not_reused(ctl):
    world(ctl, 3)
    assert ctl.post("/v1/tunnels", {"name": "x", "a": "eu0", "b": "eu1",
                                    "profile": "p1"}).status == 201
    first = ctl.all_tunnels()[0]
    assert ctl.delete("/v1/tunnels/x").status == 204
    assert ctl.all_tunnels() == []
    assert ctl.post("/v1/tunnels", {"name": "y", "a": "eu1", "b": "eu2",
                                    "profile": "p1"}).status == 201
    second = ctl.all_tunnels()[0]
    assert second["id"] != first["id"] and second["key"] != first["key"]
    assert second["reqid"] != first["reqid"]


def test_filter_by_site_and_paging(ctl):
    world(ctl, 6)
    assert ctl.post("/v1/topologies", {"name": "mesh", "kind": "full-mesh", "profile": "p1",
                                       "match_tags": {"region": "eu"}}).status == 201
    everything = ctl.all_tunnels()
    assert len(everything) == 15
    mine = ctl.all_tunnels(site="eu2")
    assert len(mine) == 5 and all("eu2" in (t["a"], t["b"]) for t in mine)
    assert mine == [t for t in everything if "eu2" in (t["a"], t["b"])]
    assert ctl.get("/v1/tunnels?site=nobody").json == {"items": [], "next": None}
    seen, after = [], None
    for _ in range(20):
        r = ctl.get("/v1/tunnels?limit=4" + ("&after=%d" % after if after is not None else ""))
        assert r.status == 200, r
        assert len(r.json["items"]) <= 4
        seen += r.json["items"]
        after = r.json["next"]
        if after is None:
            break
        assert after == r.json["items"][-1]["id"]
    assert seen == everything
    ids = [t["id"] for t in everything]
    assert ids == sorted(ids)
    assert_error(ctl.get("/v1/tunnels?limit=0"), 400, "bad_request")


def test_viewer_sees_tunnels_without_secrets(ctl):
    world(ctl, 2)
    assert ctl.post("/v1/tunnels", {"name": "x", "a": "eu0", "b": "eu1",
                                    "profile": "p1"}).status == 201
    viewer = ctl.issue("viewer")
    r = ctl.get("/v1/tunnels", token=viewer)
    assert r.status == 200 and len(r.json["items"]) == 1
    t = r.json["items"][0]
    assert "psk" not in t or t["psk"] in (None, "", "<redacted>", "***"), t
