"""Unmanaged sites (issue 10): managed: false, GET /v1/sites/{name}/peer-config in the
swanctl and libreswan formats, checked line by line against the intent the managed end's
agent receives; roles and the secret-read audit; the 409/422/400 refusals; no agent token;
status from the managed end's reports. The libreswan output is also parsed by libreswan's
own readwriteconf and algparse (unpacked by contrib/install-deps.sh, check tier)."""
import ipaddress
import os
import re
import subprocess

import pytest

from conftest import assert_error, profile, site

LIBRESWAN = os.environ.get("GRESEC_LIBRESWAN", "/opt/gresec-test/libreswan")
LS_LIBEXEC = os.path.join(LIBRESWAN, "usr", "libexec", "ipsec")


def load(ctl, sites, profiles=(), topologies=()):
    r = ctl.post("/v1/import", {"sites": list(sites), "profiles": list(profiles) or
                                [profile("p1")], "topologies": list(topologies)})
    assert r.status == 200, r


def pair(ctl, prof=None, vti=False, **unmanaged):
    """Site a (managed) joined to site b (unmanaged) by one tunnel."""
    b = site("b", 2, managed=False)
    b.update(unmanaged)
    topo = {"name": "t", "kind": "full-mesh", "profile": (prof or profile("p1"))["name"],
            "members": ["a", "b"]}
    if vti:
        topo["tunnel_type"] = "vti"
    load(ctl, [site("a", 1), b], [prof or profile("p1")], [topo])


def intent(ctl, name):
    r = ctl.get("/v1/agents/%s/intent" % name)
    assert r.status == 200, r
    return r.json


def peer_config(ctl, name, fmt, **kw):
    return ctl.get("/v1/sites/%s/peer-config?format=%s" % (name, fmt), **kw)


def swan_value(text, key):
    """Every value of `key = value` lines (swanctl.conf), in order."""
    return re.findall(r"^\s*%s = (.*)$" % re.escape(key), text, re.M)


def ls_value(text, key):
    return re.findall(r"^\t%s=(.*)$" % re.escape(key), text, re.M)


def test_managed_defaults_true_and_round_trips(ctl):
    load(ctl, [site("a", 1), site("b", 2, managed=False)])
    assert ctl.get("/v1/sites/a").json["managed"] is True
    assert ctl.get("/v1/sites/b").json["managed"] is False
    r = ctl.patch("/v1/sites/b", {"managed": None},
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 200 and r.json["managed"] is True, r
    assert_error(ctl.patch("/v1/sites/b", {"managed": "no"},
                           headers={"Content-Type": "application/merge-patch+json"}), 422)


def test_swanctl_matches_what_the_managed_end_is_given(ctl):
    pair(ctl)
    (ta,) = intent(ctl, "a")["tunnels"]
    ib = intent(ctl, "b")
    (tb,) = ib["tunnels"]
    r = peer_config(ctl, "b", "swanctl")
    assert r.status == 200, r
    c = r.json
    assert c["site"] == "b" and c["format"] == "swanctl" and c["revision"] == ib["revision"]
    assert set(c["files"]) == {"swanctl.conf", "strongswan.conf", "gresec-peer.sh"}
    conf = c["files"]["swanctl.conf"]
    # The addresses mirror the managed end's, the key is the managed end's key, as 0x hex.
    assert swan_value(conf, "local_addrs") == [ta["remote"]]
    assert swan_value(conf, "remote_addrs") == [ta["local"]]
    assert swan_value(conf, "secret") == [ta["psk"]]
    assert re.fullmatch(r"0x[0-9a-f]{64}", ta["psk"]), "a 256-bit key in hex"
    assert swan_value(conf, "id-local") == [ta["remote"]]
    assert swan_value(conf, "id-remote") == [ta["local"]]
    assert swan_value(conf, "proposals") == [",".join(ta["security"]["ike_proposals"])]
    assert swan_value(conf, "esp_proposals") == [",".join(ta["security"]["child_proposals"])]
    assert swan_value(conf, "local_ts") == ["dynamic[gre]"]
    assert swan_value(conf, "mode") == ["transport"]
    assert swan_value(conf, "rekey_time") == ["%ds" % ta["security"]["ike_lifetime"],
                                              "%ds" % ta["security"]["child_lifetime"]]
    assert swan_value(conf, "encap") == ["no"]
    # On demand: a trap policy at this end too.
    assert swan_value(conf, "start_action") == ["trap"]
    assert "install_routes = no" in c["files"]["strongswan.conf"]
    sh = c["files"]["gresec-peer.sh"]
    assert ("ip link add %s type gre local %s remote %s ikey %d okey %d ttl %d pmtudisc"
            % (tb["ifname"], ta["remote"], ta["local"], ta["key"], ta["key"], ta["ttl"])) in sh
    assert "ip link set %s mtu %d up" % (tb["ifname"], ta["mtu"]) in sh
    assert "ip addr replace %s dev %s" % (ta["overlay"]["peer"], tb["ifname"]) in sh
    # The guard: both directions of GRE between the underlays, blocked at the weakest
    # priority.
    # A mark of its own, or the kernel would take it for the IKE daemon's policy (same
    # selector) and replace that.
    assert re.search(r"ip xfrm policy update src %s dst %s proto gre dir out priority "
                     r"\d+ mark 0 mask 0xffffffff action block" % (ta["remote"], ta["local"]),
                     sh), sh
    assert re.search(r"ip xfrm policy update src %s dst %s proto gre dir in priority "
                     r"\d+ mark 0 mask 0xffffffff action block" % (ta["local"], ta["remote"]),
                     sh), sh
    # Routes to a's prefixes through the tunnel.
    assert "ip route replace 10.0.1.0/24 metric" in sh and "dev %s" % tb["ifname"] in sh
    assert tb["bfd"]["enabled"] is False and ta["bfd"]["enabled"] is False, \
        "no BFD towards a gateway that need not run it"


def test_swanctl_vti_always_on(ctl):
    pair(ctl, profile("p1", start="always"), vti=True)
    (ta,) = intent(ctl, "a")["tunnels"]
    conf = peer_config(ctl, "b", "swanctl").json["files"]
    s = conf["swanctl.conf"]
    assert swan_value(s, "mode") == ["tunnel"]
    assert swan_value(s, "local_ts") == ["0.0.0.0/0"] == swan_value(s, "remote_ts")
    assert swan_value(s, "mark_in") == ["%d/0xffffffff" % ta["key"]]
    assert swan_value(s, "mark_out") == ["%d/0xffffffff" % ta["key"]]
    # b sorts after a: a initiates and restarts; b keeps a trap.
    assert ta["security"]["initiator"] is True
    assert swan_value(s, "start_action") == ["trap"]
    sh = conf["gresec-peer.sh"]
    assert " type vti local " in sh and "disable_policy=1" in sh
    assert "proto gre" not in sh, "no GRE guard for a VTI: nothing to leak in clear"


def ls_tool(name):
    path = os.path.join(LS_LIBEXEC, name)
    assert os.access(path, os.X_OK), \
        "%s missing: run contrib/install-deps.sh check (unpacks libreswan)" % path
    return path


def test_libreswan_matches_and_libreswan_parses_it(ctl, tmp_path):
    pair(ctl, profile("p1", esp_proposals=["aes256gcm16-ecp384", "aes128-sha256-ecp384"],
                      ike_proposals=["aes256gcm16-prfsha384-ecp384", "aes256-sha256-modp3072"]))
    (ta,) = intent(ctl, "a")["tunnels"]
    r = peer_config(ctl, "b", "libreswan")
    assert r.status == 200, r
    files = r.json["files"]
    assert set(files) == {"ipsec.conf", "ipsec.secrets", "gresec-peer.sh"}
    conf = files["ipsec.conf"]
    assert ls_value(conf, "left") == [ta["remote"]] and ls_value(conf, "right") == [ta["local"]]
    assert ls_value(conf, "ike") == ["aes_gcm256-sha2_384-dh20,aes256-sha2_256-dh15"]
    assert ls_value(conf, "esp") == ["aes_gcm256-null-dh20,aes128-sha2_256-dh20"]
    assert ls_value(conf, "pfs") == ["yes"], "the child proposals carry a group"
    assert ls_value(conf, "leftprotoport") == ["gre"] == ls_value(conf, "rightprotoport")
    assert ls_value(conf, "auto") == ["route"]
    # The hard expiry charon has (rekey + 10 %), that 10 % as the margin.
    life = ta["security"]["child_lifetime"]
    assert ls_value(conf, "salifetime") == ["%ds" % (life + life // 10)]
    assert ls_value(conf, "rekeymargin") == ["%ds" % (life // 10)]
    assert "%s %s : PSK %s" % (ta["remote"], ta["local"], ta["psk"]) in files["ipsec.secrets"]
    # libreswan's own parsers accept it: the whole file, and each proposal list.
    (tmp_path / "ipsec.conf").write_text("config setup\n" + conf)
    p = subprocess.run([ls_tool("readwriteconf"), "--config", str(tmp_path / "ipsec.conf")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "conn " in p.stdout, p.stdout + p.stderr
    for key in ("ike", "esp"):
        (v,) = ls_value(conf, key)
        p = subprocess.run([ls_tool("algparse"), "-v2", "-pfs", "%s=%s" % (key, v)],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0 and "ERROR" not in p.stdout + p.stderr, p.stdout + p.stderr


def test_libreswan_refusals_are_422_with_the_reason(ctl):
    # Through NAT: traffic selectors libreswan refuses (docs/interop.md).
    pair(ctl, behind_nat=True, nat_address="203.0.113.9")
    e = assert_error(peer_config(ctl, "b", "libreswan"), 422, "invalid")
    assert "NAT" in e["message"] and e["details"][0]["path"] == "format", e
    r = peer_config(ctl, "b", "swanctl")
    assert r.status == 200, r
    assert swan_value(r.json["files"]["swanctl.conf"], "encap") == ["yes"]
    assert swan_value(r.json["files"]["swanctl.conf"], "id-local") == ["198.18.0.3"], \
        "behind NAT, the unmanaged end is known by its own underlay"


@pytest.mark.parametrize("prof,word", [
    (profile("p1", esp_proposals=["aes256gcm16-ecp384", "aes256gcm16"]), "PFS"),
    (profile("p1", esp_proposals=["aes256gcm16-ecp384", "aes256gcm16-ecp256"]), "one PFS group"),
    (profile("p1", esp_proposals=["aes256gcm16-ecp384-ecp256"]), "one PFS group"),
    (profile("p1", ike_proposals=["aes256-sha256-ecp256bp"]), "ecp256bp"),
    (profile("p1", ike_proposals=["aes256-sha256-prfsha384-ecp256"]), "PRF"),
])
def test_libreswan_cannot_express(ctl, prof, word):
    pair(ctl, prof)
    e = assert_error(peer_config(ctl, "b", "libreswan"), 422)
    assert word in e["message"], e
    assert peer_config(ctl, "b", "swanctl").status == 200


def test_roles_audit_and_refusals(ctl):
    pair(ctl)
    viewer, operator = ctl.issue("viewer"), ctl.issue("operator")
    assert_error(peer_config(ctl, "b", "swanctl", token=viewer), 403)
    r = peer_config(ctl, "b", "swanctl", token=operator)
    assert r.status == 200, r
    (ta,) = intent(ctl, "a")["tunnels"]
    audit = ctl.get("/v1/audit").json["items"]
    reads = [a for a in audit if a["action"] == "secret-read"]
    assert len(reads) == 1, audit
    assert reads[0]["kind"] == "site" and reads[0]["name"] == "b"
    assert reads[0]["actor"].startswith("t-operator#"), reads[0]
    assert reads[0]["after"] == {"format": "swanctl", "revision": r.json["revision"],
                                 "tunnels": [ta["id"]]}, reads[0]
    assert ta["psk"] not in ctl.get("/v1/audit").body.decode()
    assert ta["psk"] not in ctl.log()
    # Refusals: no site, a managed site, no or another format.
    assert_error(peer_config(ctl, "nosuch", "swanctl"), 404)
    assert_error(peer_config(ctl, "a", "swanctl"), 409)
    assert_error(ctl.get("/v1/sites/b/peer-config"), 400)
    assert_error(peer_config(ctl, "b", "openswan"), 400)
    # Refusals are not secret reads.
    assert len([a for a in ctl.get("/v1/audit").json["items"]
                if a["action"] == "secret-read"]) == 1


def test_no_agent_token_and_status_from_the_managed_end(ctl):
    pair(ctl)
    assert_error(ctl.post("/v1/sites/b/agent-token"), 409)
    s = ctl.get("/v1/status").json["sites"]
    assert s["unmanaged"] == 1 and s["never"] == 1 and s["total"] == 2, s
    tok = ctl.post("/v1/sites/a/agent-token").json["token"]
    it = intent(ctl, "a")
    (ta,) = it["tunnels"]
    entry = {"id": ta["id"], "interface": "up", "ike": "established", "child": "installed"}
    r = ctl.post("/v1/agents/a/status", {"revision": it["revision"], "tunnels": [entry]},
                 token=tok)
    assert r.status == 204, r
    (t,) = ctl.all_tunnels()
    assert t["state"]["overall"] == "up" and t["state"]["b"] is None, t["state"]
    s = ctl.get("/v1/status").json
    assert s["sites"]["seen"] == 1 and s["sites"]["never"] == 0, s
    assert s["tunnels"]["up"] == 1, s


def test_ipv6_underlay_script(ctl):
    load(ctl, [site("a", 1, underlay="2001:db8::1", prefixes=["2001:db8:a::/48"]),
               site("b", 2, underlay="2001:db8::2", prefixes=["2001:db8:b::/48"],
                    managed=False)],
         [profile("p1")],
         [{"name": "t", "kind": "full-mesh", "profile": "p1", "members": ["a", "b"]}])
    (ta,) = intent(ctl, "a")["tunnels"]
    sh = peer_config(ctl, "b", "swanctl").json["files"]["gresec-peer.sh"]
    assert " type ip6gre local 2001:db8::2 remote 2001:db8::1 " in sh, sh
    m = re.search(r"ip -6 route replace 2001:db8:a::/48 metric \d+ via (\S+) dev", sh)
    assert m, sh
    assert ipaddress.ip_address(m.group(1)).is_link_local or \
        ipaddress.ip_address(m.group(1)) == ipaddress.ip_interface(ta["overlay"]["local"]).ip
