"""Every combination the API accepts compiles to what docs/intent.md promises, and what
cannot work is refused with 422 naming the field, with nothing written. (That each
accepted combination carries traffic is the lab's job: tests/e2e/matrix.sh.)"""
import json
import os

from conftest import assert_error
from test_agents import intent_json

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
MATRIX = os.path.join(ROOT, "contrib", "examples", "matrix.json")


def doc_mtus():
    """The table of docs/intent.md: (kind, mode, protocol, "IPv4"|"IPv6") -> mtu."""
    out = {}
    with open(os.path.join(ROOT, "docs", "intent.md")) as f:
        for line in f:
            cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
            if len(cells) == 5 and cells[4].isdigit():
                out[tuple(cells[:4])] = int(cells[4])
    return out


def test_matrix_accepted_and_mtus_as_documented(ctl):
    with open(MATRIX) as f:
        doc = json.load(f)
    r = ctl.post("/v1/import", doc)
    assert r.status == 200, r
    table = doc_mtus()
    assert len(table) == 12, table
    seen = set()
    for s in doc["sites"]:
        for t in intent_json(ctl, s["name"])["tunnels"]:
            fam = "IPv6" if ":" in t["local"] else "IPv4"
            key = (t["kind"], t["security"]["mode"], t["security"]["protocol"], fam)
            assert key in table, key
            assert t["mtu"] == table[key], (t["id"], key, t["mtu"], table[key])
            seen.add(key)
    # Every row of the table is a combination the matrix network has.
    assert seen == set(table), set(table) - seen


def refused(ctl, body, path_part, reason):
    before = ctl.get("/v1/export").json
    r = ctl.post("/v1/import", body)
    e = assert_error(r, 422)
    assert any(path_part in d["path"] and reason in d["message"] for d in e["details"]), e
    assert ctl.get("/v1/export").json == before, "a refused import wrote something"


def test_combinations_that_cannot_work_are_refused(ctl):
    v4 = {"name": "a4", "underlay": "203.0.113.1", "prefixes": ["10.1.0.0/24"]}
    v6 = {"name": "b6", "underlay": "2001:db8::2", "prefixes": ["fd00:2::/64"]}
    nat = {"name": "n4", "underlay": "192.168.7.2", "behind_nat": True,
           "nat_address": "203.0.113.9", "prefixes": ["10.9.0.0/24"]}
    nat2 = {"name": "n5", "underlay": "192.168.8.2", "behind_nat": True,
            "nat_address": "203.0.113.10", "prefixes": ["10.10.0.0/24"]}
    # IPv4 underlay to IPv6 underlay.
    refused(ctl, {"profiles": [{"name": "p"}], "sites": [v4, v6],
                  "tunnels": [{"name": "x", "a": "a4", "b": "b6", "profile": "p"}]},
            "underlay", "one underlay is IPv4, the other IPv6")
    # AH across a NAT.
    refused(ctl, {"profiles": [{"name": "ah", "protocol": "ah"}], "sites": [v4, nat],
                  "tunnels": [{"name": "x", "a": "a4", "b": "n4", "profile": "ah"}]},
            "behind_nat", "uses AH, which cannot cross NAT")
    # GRE in tunnel mode across a NAT (a VTI in tunnel mode is fine).
    refused(ctl, {"profiles": [{"name": "tun", "mode": "tunnel"}], "sites": [v4, nat],
                  "tunnels": [{"name": "x", "a": "a4", "b": "n4", "profile": "tun"}]},
            "behind_nat", "puts GRE in tunnel mode, which cannot cross NAT")
    # Both ends behind NAT.
    refused(ctl, {"profiles": [{"name": "p"}], "sites": [nat, nat2],
                  "tunnels": [{"name": "x", "a": "n4", "b": "n5", "profile": "p"}]},
            "behind_nat", "both sites are behind NAT")
    # An IPv6 underlay below the IPv6 minimum MTU.
    small = dict(v6, underlay_mtu=1200)
    refused(ctl, {"sites": [small]}, "underlay_mtu", "at least 1280 with an IPv6 underlay")
    # The same sites, written one by one, are refused the same way.
    assert ctl.post("/v1/sites", v4).status == 201
    assert ctl.post("/v1/sites", v6).status == 201
    assert ctl.post("/v1/profiles", {"name": "p"}).status == 201
    e = assert_error(ctl.post("/v1/tunnels", {"name": "x", "a": "a4", "b": "b6", "profile": "p"}), 422)
    assert "IPv4, the other IPv6" in json.dumps(e), e
    assert ctl.all_tunnels() == []
    # A VTI in tunnel mode crosses the NAT: accepted.
    r = ctl.post("/v1/import", {"profiles": [{"name": "tun", "mode": "tunnel"}], "sites": [nat],
                                "tunnels": [{"name": "v", "a": "a4", "b": "n4", "profile": "tun",
                                             "tunnel_type": "vti"}]})
    assert r.status == 200, r
    assert [t["tunnel_type"] for t in ctl.all_tunnels()] == ["vti"]
