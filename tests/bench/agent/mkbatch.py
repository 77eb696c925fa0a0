#!/usr/bin/env python3
"""The `ip -batch` reference of the agent benchmark: from an intent (as written by
tests/kernel/mkintent.py), the iproute2 commands that create exactly the objects the agent
creates for it, as a person would write them with the fewest commands.
  mkbatch.py INTENT OUTDIR   writes OUTDIR/ip.batch (rtnl and xfrm lines, for one
                             `ip -force -batch`) and OUTDIR/sysctl.args (the per-link
                             sysctls, which iproute2 cannot set, for one `sysctl -w`).
Per GRE tunnel, like the agent: the link created up with its MTU and group, its alias
(the kernel takes IFLA_IFALIAS only on an existing link), rp_filter=2, the overlay address,
routes with protocol 201 and link scope, and the SPD entries with their ESP templates."""
import json
import os
import sys

LINK_GROUP = 26483      # KSTATE_LINK_GROUP
RTPROT = 201            # KSTATE_RTPROT
RP_FILTER = 2           # tunnel_kind.c, GRE


def main():
    doc = json.load(open(sys.argv[1]))
    outdir = sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    tun = {t["id"]: t for t in doc["tunnels"]}
    lines, sysctl = [], []
    for t in doc["tunnels"]:
        if t["kind"] != "gre" or ":" in t["local"]:
            sys.exit("mkbatch.py: only IPv4 GRE tunnels are written")
        lines.append("link add name %s mtu %d group %d up type gre local %s remote %s "
                     "ttl %d key %d" % (t["ifname"], t["mtu"], LINK_GROUP, t["local"],
                                        t["remote"], t["ttl"], t["key"]))
        lines.append("link set dev %s alias gresec:%s" % (t["ifname"], t["id"]))
        sysctl.append("net.ipv4.conf.%s.rp_filter=%d" % (t["ifname"], RP_FILTER))
        lines.append("addr add %s dev %s" % (t["overlay"]["local"], t["ifname"]))
    for r in doc["routes"]:
        lines.append("route add %s dev %s metric %d proto %d scope link" %
                     (r["prefix"], tun[r["via"]]["ifname"], r["metric"], RTPROT))
    for s in doc["spd"]:
        tm = s["template"]
        if "mark" in s or tm["mode"] != "transport":
            sys.exit("mkbatch.py: only unmarked transport-mode SPD entries are written")
        proto = {47: "gre", 0: None}[s["proto"]]
        lines.append("xfrm policy add src %s dst %s%s dir %s priority %d "
                     "tmpl proto %s reqid %d mode %s" %
                     (s["src"], s["dst"], " proto " + proto if proto else "", s["dir"],
                      s["priority"], tm["proto"], tm["reqid"], tm["mode"]))
    with open(os.path.join(outdir, "ip.batch"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(outdir, "sysctl.args"), "w") as f:
        f.write("\n".join(sysctl) + "\n")


if __name__ == "__main__":
    main()
