#!/usr/bin/env python3
"""Generates a gresec import document for the controller benchmark.

Default shape (issue 2): 1,000 sites in ten regions of 100; two hubs joined by one
hub-spoke topology to every site; one full mesh per region; IPv4 and IPv6 underlays;
per-site LANs (IPv4 /24, some with a voice /26, IPv6 /56 where the site has IPv6); two
crypto profiles; a few explicit cross-region tunnels. Deterministic: the same arguments
always give the same document, so a re-import is a true no-op.

  gen_topology.py [--sites N] [--regions R] [--csv] [-o FILE]

--csv writes only the sites, as the CSV that POST /v1/import accepts.
"""
import argparse
import csv
import io
import json
import sys


def site_name(region, idx):
    return "r%02d-s%03d" % (region + 1, idx + 1)


def underlay(n, v6):
    # 198.18.0.0/15 (RFC 2544 benchmarking) and 2001:db8::/32 (documentation): never
    # inside any LAN below, as the controller requires.
    if v6:
        return "2001:db8:%x:%x::1" % (0x100 + n // 4096, n % 4096)
    return "198.%d.%d.%d" % (18 + n // 62500, (n // 250) % 250, n % 250 + 1)


def prefixes(n, v6):
    out = ["10.%d.%d.0/24" % (16 + n // 256, n % 256)]
    if n % 4 == 0:
        out.append("172.%d.%d.64/26" % (16 + n // 256 % 16, n % 256))
    if v6:
        out.append("fd00:%x:%x::/56" % (1 + n // 256, (n % 256) << 8))
    return out


def make_sites(nsites, nregions):
    per = nsites // nregions
    sites = []
    for n in range(nsites):
        region, idx = divmod(n, per)
        if region >= nregions:
            region, idx = nregions - 1, n - (nregions - 1) * per
        v6 = n % 3 == 2
        nat = n % 7 == 3
        tags = {"fleet": "bench", "region": "r%02d" % (region + 1),
                "tier": "hub" if idx == 0 and region in (0, nregions // 2) else "branch"}
        site = {
            "name": site_name(region, idx),
            "underlay": underlay(n, v6),
            "behind_nat": nat,
            "prefixes": prefixes(n, v6),
            "tags": tags,
            "description": "branch %d of region %d" % (idx + 1, region + 1),
        }
        if nat:
            site["underlay_mtu"] = 1400
        sites.append(site)
    return sites


def make_doc(nsites, nregions):
    sites = make_sites(nsites, nregions)
    hubs = [site_name(0, 0), site_name(nregions // 2, 0)]
    profiles = [
        {"name": "default", "keying": "ike", "ike_version": 2,
         "ike_proposals": ["aes256gcm16-prfsha384-ecp384"],
         "esp_proposals": ["aes256gcm16-ecp384"], "auth": "psk", "mode": "transport",
         "protocol": "esp", "ike_lifetime": 86400, "sa_lifetime": 3600,
         "dpd_interval": 30, "start": "on-demand",
         "description": "modern AEAD, IKEv2"},
        {"name": "legacy", "keying": "ike", "ike_version": 2,
         "ike_proposals": ["aes128-sha256-modp2048"],
         "esp_proposals": ["aes128-sha256-modp2048"], "auth": "psk",
         "mode": "transport", "start": "always", "dpd_interval": 10,
         "description": "for old branch routers"},
    ]
    topologies = [{
        "name": "core", "kind": "hub-spoke", "tunnel_type": "vti", "profile": "default",
        "hubs": hubs, "match_tags": {"fleet": "bench"},
        "summary_prefixes": ["10.0.0.0/8"],
        "description": "both data centres to every site",
    }]
    for r in range(nregions):
        topologies.append({
            "name": "mesh-r%02d" % (r + 1), "kind": "full-mesh", "tunnel_type": "gre",
            "profile": "legacy" if r % 5 == 4 else "default",
            "match_tags": {"region": "r%02d" % (r + 1)},
            "description": "regional full mesh %d" % (r + 1),
        })
    tunnels = []
    for r in range(min(5, nregions - 1)):
        a, b = sites[r * (nsites // nregions) + 50 % (nsites // nregions)], \
            sites[(r + 1) * (nsites // nregions) + 50 % (nsites // nregions)]
        tunnels.append({"name": "x-%s-%s" % (a["name"], b["name"]), "a": a["name"],
                        "b": b["name"], "tunnel_type": "gre", "profile": "default",
                        "description": "cross-region backup"})
    return {"sites": sites, "profiles": profiles, "topologies": topologies,
            "tunnels": tunnels}


def sites_csv(sites):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    cols = ["name", "underlay", "behind_nat", "prefixes", "tags", "description",
            "underlay_mtu"]
    w.writerow(cols)
    for s in sites:
        w.writerow([s["name"], s["underlay"], "yes" if s["behind_nat"] else "no",
                    " ".join(s["prefixes"]),
                    " ".join("%s=%s" % kv for kv in sorted(s["tags"].items())),
                    s["description"], s.get("underlay_mtu", "")])
    return out.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--regions", type=int, default=10)
    ap.add_argument("--csv", action="store_true", help="sites only, as CSV")
    ap.add_argument("-o", "--output", default="-")
    a = ap.parse_args()
    if a.regions < 2 or a.sites < a.regions or a.sites > 4096:
        ap.error("need 2 <= regions <= sites <= 4096")
    doc = make_doc(a.sites, a.regions)
    text = sites_csv(doc["sites"]) if a.csv else json.dumps(doc, indent=1) + "\n"
    if a.output == "-":
        sys.stdout.write(text)
    else:
        with open(a.output, "w", newline="") as f:
            f.write(text)


if __name__ == "__main__":
    main()
