"""CRUD of every kind: 201 + Location + ETag, canonical defaults, PUT/PATCH/DELETE,
If-Match, paging, and the validation and reference rules with their error paths."""
import pytest

from conftest import assert_error, site

SITE_DEFAULTS = {"behind_nat": False, "nat_address": None, "prefixes": [], "tags": {},
                 "description": "",
                 "underlay_mtu": 1500, "managed": True}
PROFILE_DEFAULTS = {"keying": "ike", "ike_version": 2,
                    "ike_proposals": ["aes256gcm16-prfsha384-ecp384"],
                    "esp_proposals": ["aes256gcm16-ecp384"], "ah_proposals": ["sha256-ecp384"],
                    "auth": "psk", "mode": "transport", "protocol": "esp",
                    "ike_lifetime": 86400, "sa_lifetime": 3600, "dpd_interval": 30,
                    "start": "on-demand", "ecmp": False, "description": "", "psk_max_age": None,
                    "bfd": {"enabled": True, "interval_ms": 100, "multiplier": 3}}
TOPOLOGY_DEFAULTS = {"tunnel_type": "gre", "members": [], "match_tags": {}, "hubs": [],
                     "summary_prefixes": [], "description": ""}
TUNNEL_DEFAULTS = {"tunnel_type": "gre", "description": ""}


def without_status(plural, body):
    """GET of one site adds the read-only agent status (docs/api.md); the rest is canonical."""
    if plural == "sites":
        status = body.pop("status")
        assert isinstance(status["intent_revision"], int), status
    return body


def paths(e):
    return [d["path"] for d in e["details"]]


def setup_world(ctl):
    """Two sites and a profile, enough for topologies and tunnels to refer to."""
    for body in (site("a", 1), site("b", 2), site("c", 3)):
        assert ctl.post("/v1/sites", body).status == 201
    assert ctl.post("/v1/profiles", {"name": "p1"}).status == 201


def create(ctl, plural, body):
    r = ctl.post("/v1/" + plural, body)
    assert r.status == 201, r
    assert r.header("location") == "/v1/%s/%s" % (plural, body["name"]), r.headers
    etag = r.header("etag")
    assert etag and etag.startswith('"') and etag.endswith('"'), r.headers
    return r


KINDS = [
    ("sites", {"name": "n1", "underlay": "192.0.2.1"}, SITE_DEFAULTS,
     {"description": "patched"}),
    ("profiles", {"name": "n1"}, PROFILE_DEFAULTS, {"dpd_interval": 10}),
    ("topologies", {"name": "n1", "kind": "full-mesh", "profile": "p1"}, TOPOLOGY_DEFAULTS,
     {"members": ["a", "b"]}),
    ("tunnels", {"name": "n1", "a": "a", "b": "b", "profile": "p1"}, TUNNEL_DEFAULTS,
     {"tunnel_type": "vti"}),
]


@pytest.mark.parametrize("plural,body,defaults,patch", KINDS, ids=[k[0] for k in KINDS])
def test_crud(ctl, plural, body, defaults, patch):
    setup_world(ctl)
    r = create(ctl, plural, body)
    canon = r.json
    expected = dict(body)
    expected.update(defaults)
    assert canon == expected, canon
    etag = r.header("etag")

    g = ctl.get("/v1/%s/n1" % plural)
    assert g.status == 200 and without_status(plural, g.json) == canon, g
    assert g.header("etag") == etag

    # Listed.
    names = [o["name"] for o in ctl.get("/v1/" + plural).json["items"]]
    assert "n1" in names

    # PATCH changes the field and the ETag.
    p = ctl.patch("/v1/%s/n1" % plural, patch, content_type="application/merge-patch+json")
    assert p.status == 200, p
    for k, v in patch.items():
        assert p.json[k] == v, p.json
    assert p.header("etag") and p.header("etag") != etag
    assert without_status(plural, ctl.get("/v1/%s/n1" % plural).json) == p.json

    # PATCH with null resets to the default.
    key = next(iter(patch))
    n = ctl.patch("/v1/%s/n1" % plural, {key: None})
    assert n.status == 200, n
    assert n.json == canon, n.json
    assert n.header("etag") == etag, "equal bodies must have equal ETags"

    # PUT is a full replace: fields left out go back to their defaults.
    full = dict(body)
    full.update(patch)
    full.pop("name")
    u = ctl.put("/v1/%s/n1" % plural, full)
    assert u.status == 200, u
    u2 = ctl.put("/v1/%s/n1" % plural, {k: v for k, v in body.items() if k != "name"})
    assert u2.status == 200 and u2.json == canon, u2

    # PUT of an absent name creates it: 201 + Location.
    other = dict(body, name="n2")
    if plural == "sites":
        other["underlay"] = "192.0.2.2"
    if plural == "tunnels":
        other["b"] = "c"
    c = ctl.put("/v1/%s/n2" % plural, other)
    assert c.status == 201, c
    assert c.header("location") == "/v1/%s/n2" % plural
    assert c.header("etag")

    d = ctl.delete("/v1/%s/n1" % plural)
    assert d.status == 204, d
    assert d.body == b""
    assert_error(ctl.get("/v1/%s/n1" % plural), 404, "not_found")
    assert_error(ctl.delete("/v1/%s/n1" % plural), 404, "not_found")


def test_duplicate_post_is_409(ctl):
    create(ctl, "sites", site("a", 1))
    e = assert_error(ctl.post("/v1/sites", site("a", 2)), 409, "conflict")
    assert "a" in e["message"]
    assert ctl.get("/v1/sites/a").json["underlay"] == site("a", 1)["underlay"]


def test_put_name_must_match_url(ctl):
    e = assert_error(ctl.put("/v1/sites/a", site("b", 1)), 422, "invalid")
    assert "name" in paths(e)
    assert_error(ctl.get("/v1/sites/a"), 404)
    assert_error(ctl.get("/v1/sites/b"), 404)


def test_canonical_text_and_order(ctl):
    r = create(ctl, "sites", {"name": "v6", "underlay": "2001:0DB8:0000::0001",
                              "prefixes": ["10.2.0.0/16", "2001:db8:ffff:0:0::/64",
                                           "10.1.0.0/16"],
                              "tags": {"region": "eu"}})
    assert r.json["underlay"] == "2001:db8::1"
    assert r.json["prefixes"] == ["10.1.0.0/16", "10.2.0.0/16", "2001:db8:ffff::/64"]
    assert r.json["tags"] == {"region": "eu"}


def test_if_match(ctl):
    r = create(ctl, "sites", site("a", 1))
    etag = r.header("etag")
    stale = '"0000000000000000"'
    assert stale != etag
    hdr = {"If-Match": stale}
    assert_error(ctl.put("/v1/sites/a", site("a", 1, description="x"), headers=hdr), 412,
                 "precondition_failed")
    assert_error(ctl.patch("/v1/sites/a", {"description": "x"}, headers=hdr), 412,
                 "precondition_failed")
    assert_error(ctl.delete("/v1/sites/a", headers=hdr), 412, "precondition_failed")
    assert ctl.get("/v1/sites/a").json["description"] == ""

    ok = ctl.patch("/v1/sites/a", {"description": "x"}, headers={"If-Match": etag})
    assert ok.status == 200, ok
    new = ok.header("etag")
    # The old ETag is stale now: a second writer working from it loses.
    assert_error(ctl.patch("/v1/sites/a", {"description": "y"}, headers={"If-Match": etag}),
                 412, "precondition_failed")
    assert ctl.get("/v1/sites/a").json["description"] == "x"
    assert ctl.delete("/v1/sites/a", headers={"If-Match": new}).status == 204


def test_paging(ctl):
    names = ["s%02d" % i for i in range(7)]
    for i, n in enumerate(reversed(names)):
        create(ctl, "sites", site(n, i + 1))
    seen, after, pages = [], None, 0
    while True:
        q = "/v1/sites?limit=3" + ("&after=" + after if after else "")
        r = ctl.get(q)
        assert r.status == 200, r
        page = r.json
        assert len(page["items"]) <= 3
        seen += [o["name"] for o in page["items"]]
        pages += 1
        after = page["next"]
        if after is None:
            break
        assert after == page["items"][-1]["name"]
        assert pages < 10
    assert seen == names
    assert pages == 3
    r = ctl.get("/v1/sites?after=s04").json
    assert [o["name"] for o in r["items"]] == ["s05", "s06"] and r["next"] is None
    r = ctl.get("/v1/sites").json
    assert len(r["items"]) == 7 and r["next"] is None


# ---- validation ---------------------------------------------------------------------

def test_unknown_field_is_422_with_path(ctl):
    e = assert_error(ctl.post("/v1/sites", site("a", 1, colour="red")), 422, "invalid")
    assert "colour" in paths(e), e
    e = assert_error(ctl.post("/v1/profiles", {"name": "p", "ike_proposal": ["aes128"]}), 422)
    assert "ike_proposal" in paths(e), e
    assert_error(ctl.get("/v1/sites/a"), 404)


@pytest.mark.parametrize("bad", ["1.2.3", "256.1.1.1", "192.0.2.1/32", "", " 192.0.2.1",
                                 "fe80::1%eth0", "host.example", 12])
def test_bad_underlay_is_422_naming_underlay(ctl, bad):
    e = assert_error(ctl.post("/v1/sites", {"name": "a", "underlay": bad}), 422, "invalid")
    assert "underlay" in paths(e), e
    assert all(d["message"] for d in e["details"])


def test_site_field_rules(ctl):
    cases = [({"name": "Bad_Name", "underlay": "192.0.2.1"}, "name"),
             ({"name": "-a", "underlay": "192.0.2.1"}, "name"),
             ({"name": "a" * 64, "underlay": "192.0.2.1"}, "name"),
             ({"name": "a"}, "underlay"),
             ({"name": "a", "underlay": "192.0.2.1", "prefixes": ["10.0.0.1/8"]}, "prefixes[0]"),
             ({"name": "a", "underlay": "192.0.2.1", "prefixes": ["10.0.0.0/33"]}, "prefixes[0]"),
             ({"name": "a", "underlay": "192.0.2.1", "prefixes": ["10.0.0.0/8", "x"]},
              "prefixes[1]"),
             ({"name": "a", "underlay": "192.0.2.1", "underlay_mtu": 100}, "underlay_mtu"),
             ({"name": "a", "underlay": "192.0.2.1", "underlay_mtu": 9217}, "underlay_mtu"),
             ({"name": "a", "underlay": "192.0.2.1", "behind_nat": "yes"}, "behind_nat"),
             ({"name": "a", "underlay": "192.0.2.1", "tags": {"k": 1}}, "tags.k"),
             ({"name": "a", "underlay": "192.0.2.1", "description": "d" * 256}, "description")]
    for body, path in cases:
        e = assert_error(ctl.post("/v1/sites", body), 422, "invalid")
        assert path in paths(e), (body, e)
    assert ctl.get("/v1/sites").json["items"] == []


def test_body_must_be_an_object(ctl):
    assert_error(ctl.post("/v1/sites", [site("a", 1)]), 422, "invalid")


def test_overlapping_prefixes_across_sites_is_422(ctl):
    create(ctl, "sites", {"name": "a", "underlay": "192.0.2.1", "prefixes": ["10.1.0.0/16"]})
    e = assert_error(ctl.post("/v1/sites", {"name": "b", "underlay": "192.0.2.2",
                                            "prefixes": ["10.1.2.0/24"]}), 422, "invalid")
    assert any("prefixes" in p for p in paths(e)), e
    assert_error(ctl.get("/v1/sites/b"), 404)
    # Equal prefixes overlap too, and an update can break the rule as well as a create.
    create(ctl, "sites", {"name": "c", "underlay": "192.0.2.3", "prefixes": ["10.2.0.0/16"]})
    assert_error(ctl.patch("/v1/sites/c", {"prefixes": ["10.1.0.0/16"]}), 422, "invalid")
    assert ctl.get("/v1/sites/c").json["prefixes"] == ["10.2.0.0/16"]
    # Adjacent prefixes do not overlap.
    create(ctl, "sites", {"name": "d", "underlay": "192.0.2.4", "prefixes": ["10.0.0.0/16"]})


def test_prefix_containing_an_underlay_is_422(ctl):
    create(ctl, "sites", {"name": "a", "underlay": "198.51.100.7"})
    e = assert_error(ctl.post("/v1/sites", {"name": "b", "underlay": "192.0.2.2",
                                            "prefixes": ["198.51.100.0/24"]}), 422, "invalid")
    assert any("prefixes" in p or "underlay" in p for p in paths(e)), e
    assert_error(ctl.get("/v1/sites/b"), 404)
    # The other way round: a new site whose underlay sits inside an existing prefix.
    create(ctl, "sites", {"name": "c", "underlay": "192.0.2.3", "prefixes": ["10.9.0.0/16"]})
    assert_error(ctl.post("/v1/sites", {"name": "d", "underlay": "10.9.1.1"}), 422, "invalid")
    # A site's own prefix may not contain its own underlay either.
    assert_error(ctl.post("/v1/sites", {"name": "e", "underlay": "10.50.0.1",
                                        "prefixes": ["10.50.0.0/16"]}), 422, "invalid")


def test_shared_underlay_is_422(ctl):
    create(ctl, "sites", {"name": "a", "underlay": "192.0.2.1"})
    assert_error(ctl.post("/v1/sites", {"name": "b", "underlay": "192.0.2.1"}), 422, "invalid")
    # The same address written differently is still the same address.
    create(ctl, "sites", {"name": "b", "underlay": "2001:db8::1"})
    assert_error(ctl.post("/v1/sites", {"name": "c", "underlay": "2001:DB8:0::1"}), 422,
                 "invalid")


@pytest.mark.parametrize("field,value,path", [
    ("ike_proposals", ["aes999-sha256-modp2048"], "ike_proposals[0]"),
    ("ike_proposals", ["aes128-sha256-modp2048", "rot13"], "ike_proposals[1]"),
    ("esp_proposals", ["aes128-nosuchalg"], "esp_proposals[0]"),
    ("esp_proposals", [""], "esp_proposals[0]"),
    ("ah_proposals", ["aes128gcm16-ecp256-bogus"], "ah_proposals[0]"),
    ("ike_proposals", [], "ike_proposals"),
    ("ike_proposals", "aes128-sha256-modp2048", "ike_proposals"),
    ("keying", "ikeless", "keying"),
    ("keying", "manual", "keying"),
    ("ike_version", 3, "ike_version"),
    ("ike_version", 1, "ike_version"),
    ("auth", "password", "auth"),
    ("mode", "beet", "mode"),
    ("protocol", "gre", "protocol"),
    ("ike_lifetime", 299, "ike_lifetime"),
    ("sa_lifetime", 9, "sa_lifetime"),
    ("dpd_interval", 3601, "dpd_interval"),
    ("start", "never", "start"),
    ("ecmp", "true", "ecmp"),
])
def test_profile_rules(ctl, field, value, path):
    e = assert_error(ctl.post("/v1/profiles", {"name": "p", field: value}), 422, "invalid")
    assert path in paths(e), e
    assert_error(ctl.get("/v1/profiles/p"), 404)


def test_profile_ikeless_is_reserved_and_lifetimes_ordered(ctl):
    e = assert_error(ctl.post("/v1/profiles", {"name": "p", "keying": "ikeless"}), 422)
    assert any("reserved" in d["message"] for d in e["details"]), e
    e = assert_error(ctl.post("/v1/profiles", {"name": "p", "ike_lifetime": 3600,
                                               "sa_lifetime": 3600}), 422)
    assert any("lifetime" in p for p in paths(e)), e
    r = create(ctl, "profiles", {"name": "p", "ike_version": 2,
                                 "ike_proposals": ["aes128-sha256-modp2048",
                                                   "aes256-sha384-ecp384"],
                                 "esp_proposals": ["aes128gcm16"], "mode": "tunnel",
                                 "ike_lifetime": 3600, "sa_lifetime": 1800})
    assert r.json["ike_proposals"] == ["aes128-sha256-modp2048", "aes256-sha384-ecp384"]


def test_profile_stored_with_ike_version_1_is_reported(ctl):
    """A profile stored when ike_version 1 was accepted (and ignored) is said, at start,
    to be served as IKEv2; the API refuses 1 from now on."""
    import sqlite3
    assert create(ctl, "profiles", {"name": "old"}).status == 201
    assert ctl.stop() == 0
    con = sqlite3.connect(ctl.db)
    with con:
        con.execute("UPDATE object SET body = json_set(body, '$.ike_version', 1) "
                    "WHERE kind = 'profile' AND name = 'old'")
    con.close()
    ctl.start()
    assert "profile old: ike_version 1 is not supported and is served as IKEv2" in ctl.log()
    assert_error(ctl.patch("/v1/profiles/old", {"ike_version": 1}), 422)
    assert ctl.patch("/v1/profiles/old", {"ike_version": 2}).status == 200


def test_topology_rules(ctl):
    setup_world(ctl)
    cases = [({"name": "t", "profile": "p1"}, "kind"),
             ({"name": "t", "kind": "ring", "profile": "p1"}, "kind"),
             ({"name": "t", "kind": "full-mesh"}, "profile"),
             ({"name": "t", "kind": "hub-spoke", "profile": "p1", "members": ["a", "b"]}, "hubs"),
             ({"name": "t", "kind": "full-mesh", "profile": "p1", "hubs": ["a"]}, "hubs"),
             ({"name": "t", "kind": "full-mesh", "profile": "p1", "tunnel_type": "ipip"},
              "tunnel_type"),
             ({"name": "t", "kind": "full-mesh", "profile": "p1", "members": ["Bad!"]},
              "members[0]"),
             ({"name": "t", "kind": "full-mesh", "profile": "p1",
               "summary_prefixes": ["10.0.0.0/8"]}, "summary_prefixes"),
             ({"name": "t", "kind": "hub-spoke", "profile": "p1", "hubs": ["a"],
               "summary_prefixes": ["10.0.0.1/8"]}, "summary_prefixes[0]")]
    for body, path in cases:
        e = assert_error(ctl.post("/v1/topologies", body), 422, "invalid")
        assert path in paths(e), (body, e)
    assert ctl.get("/v1/topologies").json["items"] == []


def test_tunnel_rules(ctl):
    setup_world(ctl)
    cases = [({"name": "x", "a": "a", "b": "a", "profile": "p1"}, "b"),
             ({"name": "x", "a": "a", "profile": "p1"}, "b"),
             ({"name": "x", "a": "a", "b": "b"}, "profile"),
             ({"name": "x", "a": "a", "b": "b", "profile": "p1", "tunnel_type": "l2tp"},
              "tunnel_type")]
    for body, path in cases:
        e = assert_error(ctl.post("/v1/tunnels", body), 422, "invalid")
        assert path in paths(e), (body, e)


def test_dangling_reference_is_422(ctl):
    setup_world(ctl)
    e = assert_error(ctl.post("/v1/topologies", {"name": "t", "kind": "full-mesh",
                                                 "profile": "nope"}), 422, "invalid")
    assert "profile" in paths(e), e
    e = assert_error(ctl.post("/v1/topologies", {"name": "t", "kind": "full-mesh",
                                                 "profile": "p1", "members": ["a", "ghost"]}),
                     422, "invalid")
    assert "members[1]" in paths(e), e
    e = assert_error(ctl.post("/v1/topologies", {"name": "t", "kind": "hub-spoke",
                                                 "profile": "p1", "hubs": ["ghost"]}), 422)
    assert "hubs[0]" in paths(e), e
    e = assert_error(ctl.post("/v1/tunnels", {"name": "x", "a": "a", "b": "ghost",
                                              "profile": "p1"}), 422, "invalid")
    assert "b" in paths(e), e
    assert ctl.get("/v1/topologies").json["items"] == []
    assert ctl.get("/v1/tunnels").json["items"] == []


def test_delete_referenced_is_409_naming_referrers(ctl):
    setup_world(ctl)
    create(ctl, "topologies", {"name": "eu-mesh", "kind": "full-mesh", "profile": "p1",
                               "members": ["c", "a", "b"]})
    create(ctl, "tunnels", {"name": "x1", "a": "a", "b": "c", "profile": "p1"})
    e = assert_error(ctl.delete("/v1/sites/a"), 409, "conflict")
    ps = paths(e)
    members = ctl.get("/v1/topologies/eu-mesh").json["members"]
    assert "topologies/eu-mesh.members[%d]" % members.index("a") in ps, e
    assert "tunnels/x1.a" in ps, e
    e = assert_error(ctl.delete("/v1/profiles/p1"), 409, "conflict")
    assert set(paths(e)) >= {"topologies/eu-mesh.profile", "tunnels/x1.profile"}, e
    assert ctl.get("/v1/sites/a").status == 200
    assert ctl.get("/v1/profiles/p1").status == 200
    # Once nothing refers to it any more, it goes.
    assert ctl.delete("/v1/tunnels/x1").status == 204
    assert ctl.patch("/v1/topologies/eu-mesh", {"members": ["b", "c"]}).status == 200
    assert ctl.delete("/v1/sites/a").status == 204
