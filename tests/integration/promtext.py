"""Prometheus text exposition for the tests: checked by promtool, parsed into samples."""
import re
import shutil
import subprocess

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def promtool_check(text):
    """`promtool check metrics` (Debian package prometheus) must find nothing to say."""
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: contrib/install-deps.sh check installs prometheus"
    p = subprocess.run([tool, "check", "metrics"], input=text.encode(), capture_output=True,
                       timeout=30)
    assert p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), \
        "promtool: rc %d\n%s%s" % (p.returncode, p.stdout.decode(), p.stderr.decode())


def parse(text):
    """{(name, frozenset of (label, value)): float}; fails on a line it cannot read."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = frozenset(_LABEL.findall(m.group(2) or ""))
        key = (m.group(1), labels)
        assert key not in out, "sample twice: %r" % line
        out[key] = float(m.group(3))
    return out


def value(samples, name, **labels):
    """The sample's value, 0 when absent (a counter not bumped yet is not listed)."""
    return samples.get((name, frozenset(labels.items())), 0.0)
