#!/usr/bin/env python3
"""Generates a gresec import document for the controller benchmark.

Default shape (issue 2): 1,000 sites in ten regions of 100, one full mesh per region, and
two hubs that together reach every site by hub-spoke. A tunnel needs both underlays in one
address family (the controller refuses an IPv4-IPv6 pair), so three regions (r03, r06,
r09) are IPv6-only and the rest IPv4: the IPv4 hub (r01-s001) is the hub of every IPv4
site, the IPv6 hub (r06-s001) of every IPv6 site. Two sites behind NAT cannot be joined,
so only the last site of each region is behind NAT. Per-site LANs: an IPv4 /24, every
fourth site a voice /26, IPv6 sites also a /56. Two crypto profiles; a few explicit
tunnels between regions. Deterministic: the same arguments always give the same
document, so a re-import is a true no-op.

  gen_topology.py [--sites N] [--regions R | --region-size K] [--csv] [-o FILE]

The 10,000-site benchmark (issue 15) is --sites 10000 --region-size 100: 100 regional
meshes of 100, about 500,000 tunnels.

--csv writes only the sites, as the CSV that POST /v1/import accepts.
"""
import argparse
import csv
import io
import json
import sys


# Voice /26s take the three upper quarters of 172.16.0.0/12's /24s in turn (prefixes);
# the IPv4 LANs 10.16.0.0 up run out at 10.255.255.0 (61,440 sites).
MAX_SITES = 3 * 4096


def site_name(region, idx):
    return "r%02d-s%03d" % (region + 1, idx + 1)


def underlay(n, v6):
    # 198.18.0.0/15 (RFC 2544 benchmarking) and 2001:db8::/32 (documentation): never
    # inside any LAN below, as the controller requires.
    if v6:
        return "2001:db8:%x:%x::1" % (0x100 + n // 4096, n % 4096)
    return "198.%d.%d.%d" % (18 + n // 62500, (n // 250) % 250, n % 250 + 1)


def nat_address(n, v6):
    # The public side of a NAT'd site's NAT: outside every underlay and LAN above.
    if v6:
        return "2001:db8:ffff:%x::1" % n
    return "198.19.%d.%d" % (n // 250, n % 250 + 1)


def prefixes(n, v6):
    out = ["10.%d.%d.0/24" % (16 + n // 256, n % 256)]
    if n % 4 == 0:
        # 172.16.0.0/12 holds 4,096 /24s: past them, the next quarter of the same /24
        # (sites below 4,096 keep the voice prefix they always had).
        out.append("172.%d.%d.%d/26" % (16 + n // 256 % 16, n % 256, 64 * (1 + n // 4096)))
    if v6:
        out.append("fd00:%x:%x::/56" % (1 + n // 256, (n % 256) << 8))
    return out


def v6_regions(nregions):
    v6 = [r for r in range(nregions) if r % 3 == 2]
    return set(v6 or [nregions - 1])


def region_of(n, nsites, nregions):
    per = nsites // nregions
    region, idx = divmod(n, per)
    if region >= nregions:
        region, idx = nregions - 1, n - (nregions - 1) * per
    return region, idx


def hub_regions(nregions):
    v6 = sorted(v6_regions(nregions))
    later = [r for r in v6 if r >= nregions // 2]
    return 0, (later or v6)[0]


def make_sites(nsites, nregions):
    sites = []
    v6r = v6_regions(nregions)
    hubs = hub_regions(nregions)
    last = {}
    for n in range(nsites):
        region, idx = region_of(n, nsites, nregions)
        last[region] = idx
    for n in range(nsites):
        region, idx = region_of(n, nsites, nregions)
        v6 = region in v6r
        # Two sites behind NAT cannot reach each other, so a full mesh holds one at most.
        nat = idx == last[region] and idx >= 2
        tags = {"fleet": "bench", "region": "r%02d" % (region + 1),
                "af": "ipv6" if v6 else "ipv4",
                "tier": "hub" if idx == 0 and region in hubs else "branch"}
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
            site["nat_address"] = nat_address(n, v6)
        sites.append(site)
    return sites


def make_doc(nsites, nregions):
    sites = make_sites(nsites, nregions)
    h4, h6 = hub_regions(nregions)
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
    topologies = []
    for af, region in (("ipv4", h4), ("ipv6", h6)):
        topologies.append({
            "name": "core-" + af, "kind": "hub-spoke", "tunnel_type": "vti",
            "profile": "default", "hubs": [site_name(region, 0)],
            "match_tags": {"fleet": "bench", "af": af},
            "summary_prefixes": ["10.0.0.0/8"],
            "description": "data centre hub for every %s site" % af,
        })
    for r in range(nregions):
        topologies.append({
            "name": "mesh-r%02d" % (r + 1), "kind": "full-mesh", "tunnel_type": "gre",
            "profile": "legacy" if r % 5 == 4 else "default",
            "match_tags": {"region": "r%02d" % (r + 1)},
            "description": "regional full mesh %d" % (r + 1),
        })
    # Backup links between regions of one family: spokes that no topology joins.
    by_region = {}
    for s in sites:
        by_region.setdefault(s["tags"]["region"], []).append(s)
    regions = sorted(by_region)
    tunnels = []
    for i, ra in enumerate(regions):
        for rb in regions[i + 1:]:
            a, b = by_region[ra], by_region[rb]
            if len(tunnels) >= 5 or a[0]["tags"]["af"] != b[0]["tags"]["af"]:
                continue
            sa, sb = a[len(a) // 2], b[len(b) // 2]
            tunnels.append({"name": "x-%s-%s" % (sa["name"], sb["name"]), "a": sa["name"],
                            "b": sb["name"], "tunnel_type": "gre", "profile": "default",
                            "description": "cross-region backup"})
            break
    return {"sites": sites, "profiles": profiles, "topologies": topologies,
            "tunnels": tunnels}


def sites_csv(sites):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    cols = ["name", "underlay", "behind_nat", "prefixes", "tags", "description",
            "underlay_mtu", "nat_address"]
    w.writerow(cols)
    for s in sites:
        w.writerow([s["name"], s["underlay"], "yes" if s["behind_nat"] else "no",
                    " ".join(s["prefixes"]),
                    " ".join("%s=%s" % kv for kv in sorted(s["tags"].items())),
                    s["description"], s.get("underlay_mtu", ""), s.get("nat_address", "")])
    return out.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--regions", type=int, default=10)
    ap.add_argument("--region-size", type=int, default=0,
                    help="sites per regional mesh (sets --regions to sites / N)")
    ap.add_argument("--csv", action="store_true", help="sites only, as CSV")
    ap.add_argument("-o", "--output", default="-")
    a = ap.parse_args()
    if a.region_size:
        a.regions = max(2, a.sites // a.region_size)
    if a.regions < 2 or a.sites < a.regions or a.sites > MAX_SITES:
        ap.error("need 2 <= regions <= sites <= %d" % MAX_SITES)
    doc = make_doc(a.sites, a.regions)
    text = sites_csv(doc["sites"]) if a.csv else json.dumps(doc, indent=1) + "\n"
    if a.output == "-":
        sys.stdout.write(text)
    else:
        with open(a.output, "w", newline="") as f:
            f.write(text)


if __name__ == "__main__":
    main()
