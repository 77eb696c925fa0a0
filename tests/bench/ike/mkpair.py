#!/usr/bin/env python3
"""The IKE benchmark's second intent pair: mkpair.py OUTDIR N writes a.json and b.json,
sites a and b joined by N always-on GRE tunnels (transport ESP, a initiates), tunnel i
between 10.98.0.(i+1) at a and 10.98.1.(i+1) at b, in the shape the controller
compiles (tests/kernel/mkintent.py's helpers)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "kernel"))
import mkintent  # noqa: E402


def main():
    outdir, n = sys.argv[1], int(sys.argv[2])
    mkintent.SEC["start"] = "always"
    ta, tb = [], []
    for i in range(n):
        a, b = mkintent.link("p%03d" % i, "gre", "10.98.0.%d" % (i + 1),
                             "10.98.1.%d" % (i + 1), 6000 + i, i + 1, 80000 + i,
                             "gs-p%d" % i, "gs-p%d" % i)
        ta.append(a)
        tb.append(b)
    os.makedirs(outdir, exist_ok=True)
    for site, ts in (("a", ta), ("b", tb)):
        with open(os.path.join(outdir, site + ".json"), "w") as f:
            json.dump(mkintent.intent(site, ts, []), f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
