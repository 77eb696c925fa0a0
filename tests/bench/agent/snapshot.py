#!/usr/bin/env python3
"""Canonical text of the agent-owned objects in the current network namespace (links
named gs-*, their addresses and rp_filter, protocol-201 routes, XFRM policies), without
anything that differs between two equal setups (ifindexes, counters, timers), so the
agent's and `ip -batch`'s results can be compared with diff."""
import json
import subprocess


def ip(*args):
    return subprocess.run(["ip"] + list(args), check=True, capture_output=True,
                          text=True).stdout


def main():
    out = []
    for l in json.loads(ip("-j", "-d", "link", "show")):
        name = l["ifname"]
        if not name.startswith("gs"):
            continue
        li = l.get("linkinfo", {})
        d = li.get("info_data", {})
        rp = open("/proc/sys/net/ipv4/conf/%s/rp_filter" % name).read().strip()
        out.append("link %s kind %s up=%s mtu %s group %s alias %s local %s remote %s "
                   "ttl %s ikey %s okey %s pmtudisc %s rp_filter %s" %
                   (name, li.get("info_kind"), "UP" in l.get("flags", []), l.get("mtu"),
                    l.get("group"), l.get("ifalias"), d.get("local"), d.get("remote"),
                    d.get("ttl"), d.get("ikey"), d.get("okey"), d.get("pmtudisc"), rp))
    for l in json.loads(ip("-j", "-4", "addr", "show")):
        if l["ifname"].startswith("gs"):
            for a in l.get("addr_info", []):
                out.append("addr %s/%s dev %s scope %s" % (a["local"], a["prefixlen"],
                                                           l["ifname"], a.get("scope")))
    for line in ip("route", "show", "proto", "201").splitlines():
        out.append("route " + line.strip())
    # One policy per blank-line-free block: join its lines.
    pol, cur = [], []
    for line in ip("xfrm", "policy", "list").splitlines():
        if not line.startswith((" ", "\t")) and cur:
            pol.append(" ".join(cur))
            cur = []
        cur.append(line.strip())
    if cur:
        pol.append(" ".join(cur))
    out += ["policy " + p for p in pol]
    print("\n".join(sorted(out)))


if __name__ == "__main__":
    main()
