"""Golden intents: the intents of a small reference topology (two hubs, three spokes of
which one behind NAT, a direct spoke-to-spoke tunnel, a VTI) are pinned byte for byte,
with only the random pre-shared keys, the commit time and the CA certificate masked. Regenerate after an intended change with
GRESEC_UPDATE_GOLDEN=1 and review the diff."""
import json
import os
import re

from conftest import ROOT

HERE = os.path.join(ROOT, "tests", "integration", "golden")
SITES = ["edge", "hub-a", "hub-b", "spoke-1", "spoke-2", "spoke-3"]
PSK = re.compile(r'"psk":"0x[0-9a-f]{64}"')
# When the controller committed the revision: the time of the import, in UTC to the ms.
COMMITTED = re.compile(r'"committed_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"')


def test_reference_intents(ctl):
    with open(os.path.join(HERE, "reference.json")) as f:
        assert ctl.post("/v1/import", json.load(f)).status == 200
    update = os.environ.get("GRESEC_UPDATE_GOLDEN") == "1"
    for name in SITES:
        r = ctl.get("/v1/agents/%s/intent" % name)
        assert r.status == 200, r
        text = r.body.decode()
        # Every tunnel carries a key of the controller's own making; only it varies.
        assert len(PSK.findall(text)) == len(r.json["tunnels"]) > 0, name
        assert len(COMMITTED.findall(text)) == 1, name
        text = COMMITTED.sub('"committed_at":"<time>"', text)
        # Pinned pretty-printed (key order kept) so a change reads as a small diff.
        doc = json.loads(PSK.sub('"psk":"<psk>"', text))
        # So does the CA certificate every intent carries (test_pki.py checks it).
        assert doc["ca"].startswith("-----BEGIN CERTIFICATE-----"), name
        doc["ca"] = "<ca>"
        text = json.dumps(doc, indent=1)
        path = os.path.join(HERE, name + ".json")
        if update:
            with open(path, "w") as f:
                f.write(text + "\n")
            continue
        with open(path) as f:
            want = f.read().rstrip("\n")
        assert text == want, "intent of %s differs from %s" % (name, path)
