#!/usr/bin/env python3
"""Writes the intents of the kernel test scenarios (as the controller would compile
them) into a directory: mkintent.py SCENARIO OUTDIR [N].

Scenarios:
  pair   sites a and b joined by a GRE tunnel (LAN 10.2.0.0/24) and a VTI tunnel
         (LAN 10.2.1.0/24); underlays 192.0.2.0/24 (GRE) and 198.51.100.0/24 (VTI).
  hub    hub h with spokes s1 (underlay 192.0.2.0/24) and s2 (198.51.100.0/24);
         spokes reach each other through the hub.
  many   site a with N GRE tunnels to peers 100.64.x.y (no traffic).
  ecmp   spoke s with GRE tunnels to hubs h1 (underlay 192.0.2.0/24) and h2
         (198.51.100.0/24), both in front of 10.30.0.0/24 and 2001:db8:30::/64: s.json
         routes them through both hubs at metric 200 (ECMP), s1.json through h1 only;
         the hubs route the spoke's 10.20.0.0/24 and 2001:db8:20::/64 back.
  hostile  site a of pair as a compromised controller would send it (a.json): the GRE
         tunnel's out policy widened to all traffic (0.0.0.0/0 <-> 0.0.0.0/0, proto 0),
         and through the VTI 0.0.0.0/1 + 128.0.0.0/1, 127.0.0.0/8, the GRE peer's
         underlay 192.0.2.2/32 and the controller's 203.0.113.0/24; the VTI's own
         10.2.1.0/24 stays legitimate. noroutes.json: a.json without any route.
"""
import ipaddress
import json
import os
import sys

SEC = {
    "protocol": "esp",
    "ike_proposals": ["aes128gcm16-prfsha256-ecp256"],
    "child_proposals": ["aes128gcm16"],
    "ike_lifetime": 14400, "child_lifetime": 3600, "dpd_delay": 30,
    "start": "on-demand", "udp_encap": False,
}
PSK = "0sdGVzdC1wc2stbm90LWEtcmVhbC1zZWNyZXQ="


def tunnel(tid, ifname, kind, local, remote, key, ov_local, ov_peer, reqid, initiator):
    sec = dict(SEC, mode="tunnel" if kind == "vti" else "transport",
               initiator=initiator)
    return {"id": tid, "ifname": ifname, "kind": kind, "local": local,
            "remote": remote, "key": key, "ttl": 64 if kind == "gre" else 0,
            "mtu": 1400, "overlay": {"local": ov_local, "peer": ov_peer},
            "reqid": reqid, "security": sec, "psk": PSK}


def spd(t):
    mode = t["security"]["mode"]
    out = []
    for d in ("out", "in"):
        if t["kind"] == "gre":
            a, b = (t["local"], t["remote"]) if d == "out" else (t["remote"], t["local"])
            e = {"tunnel": t["id"], "src": a + "/32", "dst": b + "/32", "proto": 47,
                 "dir": d}
        else:
            e = {"tunnel": t["id"], "src": "0.0.0.0/0", "dst": "0.0.0.0/0", "proto": 0,
                 "dir": d, "mark": {"value": t["key"], "mask": 4294967295}}
        e["template"] = {"mode": mode, "proto": "esp", "reqid": t["reqid"]}
        e["priority"] = 10000
        out.append(e)
    return out


def intent(site, tunnels, routes, revision=1):
    return {"format": 1, "site": site, "revision": revision, "tunnels": tunnels,
            "routes": [{"prefix": p, "via": v, "metric": m} for p, v, m in routes],
            "spd": [e for t in tunnels for e in spd(t)]}


def link(tid, kind, ua, ub, key, n, reqid, ifa, ifb):
    """The two ends of one tunnel, overlay 169.254.n.0/31."""
    a = tunnel(tid, ifa, kind, ua, ub, key, "169.254.%d.0/31" % n, "169.254.%d.1/31" % n,
               reqid, True)
    b = tunnel(tid, ifb, kind, ub, ua, key, "169.254.%d.1/31" % n, "169.254.%d.0/31" % n,
               reqid, False)
    return a, b


def pair():
    ga, gb = link("ab-gre", "gre", "192.0.2.1", "192.0.2.2", 1001, 1, 65537, "gs-b", "gs-a")
    va, vb = link("ab-vti", "vti", "198.51.100.1", "198.51.100.2", 1002, 2, 65538,
                  "gs-bv", "gs-av")
    return {
        "a": intent("a", [ga, va], [("10.2.0.0/24", "ab-gre", 100),
                                   ("10.2.1.0/24", "ab-vti", 100)]),
        "b": intent("b", [gb, vb], [("10.1.0.0/24", "ab-gre", 100),
                                   ("10.1.1.0/24", "ab-vti", 100)]),
    }


def hub():
    h1, s1 = link("h-s1", "gre", "192.0.2.10", "192.0.2.11", 11, 11, 65550, "gs-s1", "gs-h")
    h2, s2 = link("h-s2", "gre", "198.51.100.10", "198.51.100.12", 12, 12, 65551, "gs-s2",
                  "gs-h")
    return {
        "h": intent("h", [h1, h2], [("10.11.0.0/24", "h-s1", 100),
                                   ("10.12.0.0/24", "h-s2", 100)]),
        "s1": intent("s1", [s1], [("10.10.0.0/24", "h-s1", 100),
                                 ("10.12.0.0/24", "h-s1", 100)]),
        "s2": intent("s2", [s2], [("10.10.0.0/24", "h-s2", 100),
                                 ("10.11.0.0/24", "h-s2", 100)]),
    }


def ecmp():
    s1, h1 = link("s-h1", "gre", "192.0.2.20", "192.0.2.21", 21, 21, 65560, "gs-h1", "gs-s")
    s2, h2 = link("s-h2", "gre", "198.51.100.20", "198.51.100.22", 22, 22, 65561, "gs-h2",
                  "gs-s")
    both = [(p, t, 200) for p in ("10.30.0.0/24", "2001:db8:30::/64") for t in ("s-h2", "s-h1")]
    return {
        "s": intent("s", [s1, s2], both),
        "s1": intent("s", [s1, s2], [r for r in both if r[1] == "s-h1"], revision=2),
        "h1": intent("h1", [h1], [("10.20.0.0/24", "s-h1", 100),
                                 ("2001:db8:20::/64", "s-h1", 100)]),
        "h2": intent("h2", [h2], [("10.20.0.0/24", "s-h2", 100),
                                 ("2001:db8:20::/64", "s-h2", 100)]),
    }


def hostile():
    a = pair()["a"]
    gre_out = a["spd"][0]
    gre_out.update({"src": "0.0.0.0/0", "dst": "0.0.0.0/0", "proto": 0})
    for p in ("0.0.0.0/1", "128.0.0.0/1", "127.0.0.0/8", "192.0.2.2/32", "203.0.113.0/24"):
        a["routes"].append({"prefix": p, "via": "ab-vti", "metric": 100})
    bare = pair()["a"]
    bare["routes"] = []
    return {"a": a, "noroutes": bare}


def many(n):
    ts, routes = [], []
    for i in range(n):
        peer = str(ipaddress.ip_address("100.64.0.1") + i)
        ov = ipaddress.ip_address("172.16.0.0") + 2 * i
        t = tunnel("t%04d" % i, "gs-m%d" % i, "gre", "192.0.2.1", peer, 5000 + i,
                   "%s/31" % ov, "%s/31" % (ov + 1), 70000 + i, True)
        ts.append(t)
        routes.append(("10.%d.%d.0/24" % (100 + i // 256, i % 256), t["id"], 100))
    return {"a": intent("a", ts, routes)}


def main():
    scen, outdir = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    docs = {"pair": pair, "hub": hub, "ecmp": ecmp, "hostile": hostile,
            "many": lambda: many(n)}[scen]()
    os.makedirs(outdir, exist_ok=True)
    for site, doc in docs.items():
        with open(os.path.join(outdir, site + ".json"), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
