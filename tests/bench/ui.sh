#!/bin/sh
# The topology map's first render at 1,000 sites (tests/bench/ui_render.py, headless
# Chromium), against the 2 s target. Env: GRESEC_BUILD, BENCH_SITES, BENCH_STRICT.
# bench-timeout: 300
exec /usr/bin/python3 "$(dirname "$0")/ui_render.py" "$@"
