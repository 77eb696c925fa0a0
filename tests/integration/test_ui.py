"""The topology map at /ui/: its files and headers, and the page itself in headless
Chromium (cdp.py) against a live controller holding contrib/examples/demo.json: the
login form, node and edge counts, an edge's colour before and after an agent's status
report, the click panels, no CSP violation or script error; a screenshot is kept in
$(BUILD)/ui-test/map.png."""
import json
import os

import pytest

from cdp import Browser
from conftest import BUILD, ROOT

UI_DIR = os.path.join(BUILD, "ui")
DEMO = os.path.join(ROOT, "contrib", "examples", "demo.json")
PENDING = "rgb(160,160,160)"    # map.js COLOURS.pending, as cytoscape reports it
UP = "rgb(46,157,68)"           # COLOURS.up


@pytest.fixture
def demo(make_controller):
    # The build must have copied the map in: no skip when it did not.
    assert os.path.exists(os.path.join(UI_DIR, "cytoscape.min.js")), \
        "no %s/cytoscape.min.js: sh ui/install.sh, then make" % UI_DIR
    c = make_controller(extra_args=["--ui-dir", UI_DIR])
    with open(DEMO) as f:
        r = c.post("/v1/import", json.load(f))
    assert r.status == 200, r
    return c


def test_files_and_headers(demo):
    r = demo.get("/ui/", token=None)
    assert r.status == 200, r
    assert r.header("content-type") == "text/html; charset=utf-8"
    csp = r.header("content-security-policy")
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.header("x-content-type-options") == "nosniff"
    assert b"<script>" not in r.body and b" style=" not in r.body   # nothing inline
    lib = demo.get("/ui/cytoscape.min.js", token=None)
    assert lib.status == 200 and lib.header("content-type").startswith("text/javascript")
    with open(os.path.join(UI_DIR, "cytoscape.min.js"), "rb") as f:
        assert lib.body == f.read()
    r = demo.get("/ui", token=None)
    assert r.status == 308 and r.header("location") == "/ui/"
    for bad in ("/ui/.hidden.js", "/ui/gresec.db", "/ui/nope.js", "/ui/a%00.js"):
        assert demo.get(bad, token=None).status in (400, 404), bad


def test_not_installed(make_controller, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "index.html").write_text("<!DOCTYPE html>")   # the page without its library
    c = make_controller(extra_args=["--ui-dir", str(empty)])
    for path in ("/ui/", "/ui/index.html"):
        r = c.get(path, token=None)
        assert r.status == 404, r
        assert "not installed" in r.json["error"]["message"]


def test_map_in_chromium(demo, tmp_path):
    tunnels = demo.all_tunnels()
    sites = demo.get("/v1/sites?limit=1000").json["items"]
    viewer = demo.issue("viewer")
    b = Browser(tmp_path).start()
    try:
        b.navigate("http://127.0.0.1:%d/ui/" % demo.port)
        # The login form, then the map with what the API holds.
        b.wait_for("!document.getElementById('login').hidden")
        b.eval("document.getElementById('token').value = %s;"
               "document.getElementById('login').requestSubmit(); true" % json.dumps(viewer))
        b.wait_for("document.getElementById('summary').dataset.nodes === '%d'" % len(sites))
        assert b.eval("document.getElementById('summary').dataset.edges") == str(len(tunnels))
        assert b.eval("sessionStorage.getItem('gresec-token')") == viewer
        assert b.eval("localStorage.length") == 0
        assert int(b.eval("document.body.dataset.firstRender || 0")) > 0
        # The hubs of the star are drawn as hubs, the rest not.
        assert b.eval("gresecMap.cy.nodes('[hub = 1]').map(n => n.data('name')).sort()") == \
            ["hub1", "hub2"]
        # Search: only spoke3 matches.
        b.eval("const s = document.getElementById('search'); s.value = 'spoke3';"
               "s.dispatchEvent(new Event('input')); true")
        assert b.eval("gresecMap.cy.nodes('.match').map(n => n.data('name'))") == ["spoke3"]

        # One tunnel's colour follows an agent's report.
        t = next(x for x in tunnels if {x["a"], x["b"]} == {"hub1", "spoke1"})
        edge = "gresecMap.cy.getElementById('t-%d')" % t["id"]
        colour = "%s.style('line-color').replace(/ /g, '')" % edge
        assert b.eval(colour) == PENDING
        agent = demo.post("/v1/sites/spoke1/agent-token").json["token"]
        rev = demo.get("/v1/sites/spoke1").json["status"]["intent_revision"]
        r = demo.post("/v1/agents/spoke1/status", {"revision": rev, "tunnels": [
            {"id": t["interfaces"]["spoke1"], "interface": "up", "ike": "established",
             "child": "installed", "bytes_in": 1234, "packets_in": 7}]}, token=agent)
        assert r.status in (200, 204), r
        b.wait_for("%s === %s" % (colour, json.dumps(UP)), timeout=15)
        assert b.eval("document.getElementById('summary').dataset.up") == "1"

        # Click the tunnel: both ends, the reporting one with its SA states and counters.
        b.eval("%s.emit('tap'); true" % edge)
        text = b.wait_for("!document.getElementById('details').hidden && "
                          "document.getElementById('details').textContent")
        assert "established" in text and "installed" in text and "1234 / 0" in text
        assert "hub1" in text and "spoke1" in text
        # Click the site: its tunnels, revision and agent age.
        b.eval("gresecMap.cy.getElementById('s-spoke1').emit('tap'); true")
        text = b.wait_for("(t => t.includes('agent age') && !t.includes('never reported') && t)"
                          "(document.getElementById('details').textContent)")
        assert "#%d" % t["id"] in text and "applied revision%d" % rev in text

        b.eval("const q = document.getElementById('search'); q.value = '';"
               "q.dispatchEvent(new Event('input')); gresecMap.cy.fit(undefined, 30); true")
        os.makedirs(os.path.join(BUILD, "ui-test"), exist_ok=True)
        shot = os.path.join(BUILD, "ui-test", "map.png")
        b.screenshot(shot)
        assert os.path.getsize(shot) > 1000
        assert b.problems() == [], "\n".join(json.dumps(e["params"]["entry"])[:600] for e in b.events if e["method"] == "Log.entryAdded")
    finally:
        b.stop()
