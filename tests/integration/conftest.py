"""Starts the real gresec-controller on loopback with a temporary database and drives it
over HTTP. Only the standard library and pytest: Debian's /usr/bin/python3 -m pytest.

GRESEC_BUILD names the build directory holding gresec-controller (default: build/ at the
top of the tree), so the same suite runs against the plain and the sanitizer builds.

Proxy mode: a controller started with prism="strict" or prism="lenient" (or every controller,
with GRESEC_PRISM=strict|lenient in the environment) is reached through Stoplight Prism in
proxy mode (tests/openapi, pinned), which checks every request and every answer against
api/openapi.yaml. "strict" checks requests too (for tests that send what the contract
allows), "lenient" answers only (for tests that send bad input on purpose). Every violation
Prism reports is recorded, and the test fails at teardown unless it took them itself.
Prism answers some requests itself, without forwarding them: no Authorization header
(401), a body that is not JSON, a path or method the document does not have (404/405);
send those with direct=True (the server's answers to them are checked by test_openapi).
"""
import http.client
import json
import os
import signal
import socket
import ssl
import stat
import subprocess
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.abspath(os.environ.get("GRESEC_BUILD", os.path.join(ROOT, "build")))
BINARY = os.path.join(BUILD, "gresec-controller")
START_TIMEOUT = 20.0   # seconds; the sanitizer build starts slower
REQUEST_TIMEOUT = 60.0
OPENAPI_DIR = os.path.join(ROOT, "tests", "openapi")
PRISM = os.path.join(OPENAPI_DIR, "node_modules", ".bin", "prism")
SPEC = os.path.join(ROOT, "api", "openapi.yaml")
PRISM_START_TIMEOUT = 60.0
PRISM_ERRORS = "https://stoplight.io/prism/errors#"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # lower-cased names
        self.body = body

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:400].decode("utf-8", "replace"))


class Prism:
    """Stoplight Prism in proxy mode (--errors) in front of one controller on loopback."""

    def __init__(self, workdir, upstream_port, mode, spec=SPEC):
        assert mode in ("strict", "lenient"), mode
        self.mode = mode
        self.spec = spec
        self.upstream_port = upstream_port
        self.log_path = os.path.join(workdir, "prism.log")
        self.proc = None
        self.port = None

    def start(self):
        # The pinned install (npm ci, idempotent); a missing Prism is a failure, not a skip.
        subprocess.run(["sh", os.path.join(OPENAPI_DIR, "install.sh")], check=True,
                       stdout=subprocess.DEVNULL)
        env = dict(os.environ, SCARF_ANALYTICS="false", NO_UPDATE_NOTIFIER="1",
                   DO_NOT_TRACK="1")
        self.port = free_port()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [PRISM, "proxy", "--errors", "--host", "127.0.0.1", "--port", str(self.port),
                 "--validate-request", "true" if self.mode == "strict" else "false",
                 "--verboseLevel", "warn", self.spec,
                 "http://127.0.0.1:%d" % self.upstream_port],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + PRISM_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("prism did not start:\n%s" % self.log())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    @staticmethod
    def violations(resp):
        """What Prism says is wrong with one exchange: its error answer (with --errors, a
        violation of severity error, or a request it cannot route) or its sl-violations
        header (the warnings it lets through). Empty when the exchange met the contract."""
        found = []
        if resp.header("sl-violations"):
            found.append(resp.header("sl-violations"))
        if "json" in (resp.header("content-type") or ""):
            try:
                body = resp.json
            except ValueError:
                body = None
            if isinstance(body, dict) and str(body.get("type", "")).startswith(PRISM_ERRORS):
                found.append(json.dumps(body))
        return found


class Controller:
    """One gresec-controller process with its own database, token file and log."""

    def __init__(self, workdir, extra_args=(), tls_ca=None, prism=None, db=None):
        self.tls_ca = tls_ca    # served over HTTPS: trust this CA file
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        # db: another controller's database file (several controllers on one database)
        self.db = db or os.path.join(self.workdir, "gresec.db")
        self.token_file = os.path.join(self.workdir, "admin.token")
        self.log_path = os.path.join(self.workdir, "controller.log")
        self.extra_args = list(extra_args)
        self.proc = None
        self.killed = False
        self.port = None
        self.admin = None
        self.secrets = set()    # every token secret seen, for the log leak check
        self.prism_mode = prism if prism is not None else os.environ.get("GRESEC_PRISM")
        self.prism = None
        self.violations = []    # (method, path, status, what Prism said), in proxy mode

    # -- process --------------------------------------------------------------------
    def start(self):
        self.killed = False
        if not os.access(BINARY, os.X_OK):
            raise RuntimeError("%s is missing: run make first" % BINARY)
        for attempt in range(3):
            self.port = free_port()
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [BINARY, "--db", self.db, "--listen", "127.0.0.1:%d" % self.port,
                 "--admin-token-file", self.token_file] + self.extra_args,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            log.close()
            if self._wait_healthy():
                break
            if self.proc.poll() is None:
                raise RuntimeError("controller did not answer /healthz within %ss:\n%s"
                                   % (START_TIMEOUT, self.log()))
            # Exited: most likely the port was taken between free_port() and bind.
        else:
            raise RuntimeError("controller failed to start:\n%s" % self.log())
        with open(self.token_file) as f:
            self.admin = f.read().strip()
        self.secrets.add(self.admin)
        if self.prism_mode and not self.tls_ca:
            if self.prism is not None:
                self.prism.stop()       # a restart: the controller's port has changed
            self.prism = Prism(self.workdir, self.port, self.prism_mode).start()
        return self

    def _wait_healthy(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                r = self.request("GET", "/healthz", token=None, timeout=2)
                if r.status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def stop(self):
        """SIGTERM, as an operator would; returns the exit code."""
        if self.prism is not None:
            self.prism.stop()
            self.prism = None
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill9(self):
        self.killed = True
        if self.prism is not None:
            self.prism.stop()
            self.prism = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -- HTTP ----------------------------------------------------------------------
    def request(self, method, path, body=None, token="admin", headers=None,
                content_type=None, timeout=REQUEST_TIMEOUT, direct=False):
        """body: dict/list → JSON; str/bytes → sent as is. token: "admin", None or a secret.
        direct: bypass the Prism proxy (in proxy mode) and talk to the controller itself."""
        hdrs = {}
        if token == "admin":
            token = self.admin
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
                hdrs["Content-Type"] = "application/json"
            else:
                data = body.encode() if isinstance(body, str) else body
                hdrs["Content-Type"] = "application/json"
        if content_type is not None:
            hdrs["Content-Type"] = content_type
        hdrs.update(headers or {})
        proxied = self.prism is not None and not direct
        if self.tls_ca:
            conn = http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=timeout,
                context=ssl.create_default_context(cafile=self.tls_ca))
        else:
            conn = http.client.HTTPConnection(
                "127.0.0.1", self.prism.port if proxied else self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            payload = resp.read()
            r = Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload)
            if proxied:
                found = Prism.violations(r)
                if found:
                    self.violations.append((method, path, r.status, "; ".join(found)))
            return r
        except ConnectionRefusedError:
            raise               # not listening (yet): nothing died mid-request
        except (OSError, http.client.HTTPException):
            self._check_alive(method, path)
            raise
        finally:
            conn.close()

    def _check_alive(self, method, path):
        """A dropped connection from a controller that died on its own is a crash: say so,
        with the end of its log (a sanitizer report, typically)."""
        if self.killed or self.proc is None:
            return
        try:
            rc = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return
        raise AssertionError("controller died (exit %s) during %s %s; log:\n%s"
                             % (rc, method, path, self.log()[-6000:]))

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def issue(self, role, name=None, site=None):
        """Issues a token with role; returns its secret."""
        req = {"name": name or ("t-" + role), "role": role}
        if site:
            req["site"] = site
        r = self.post("/v1/tokens", req)
        assert r.status == 201, r
        secret = r.json["token"]
        self.secrets.add(secret)
        return secret

    def export(self):
        r = self.get("/v1/export")
        assert r.status == 200, r
        return r.json

    def all_tunnels(self, site=None):
        items, after = [], None
        while True:
            q = "/v1/tunnels?limit=1000"
            if site:
                q += "&site=" + site
            if after is not None:
                q += "&after=%s" % after
            r = self.get(q)
            assert r.status == 200, r
            items += r.json["items"]
            after = r.json["next"]
            if after is None:
                return items


@pytest.fixture
def make_controller(tmp_path):
    """Factory: make_controller(name, *extra_args) starts one more controller."""
    started = []

    def make(name="ctl", extra_args=(), workdir=None, tls_ca=None, prism=None, db=None):
        c = Controller(workdir or (tmp_path / name), extra_args, tls_ca, prism, db).start()
        started.append(c)
        return c

    yield make
    problems = []
    for c in started:
        # Proxy mode: every contract violation Prism saw fails the test that caused it.
        problems += ["%s %s -> %s: %s" % v for v in c.violations]
        if c.proc.poll() is not None:
            if c.prism is not None:
                c.prism.stop()
            continue        # a test killed it on purpose
        try:
            rc = c.stop()
        except subprocess.TimeoutExpired:
            problems.append("controller ignored SIGTERM for 15 s")
            continue
        # A clean stop on SIGTERM; under ASan/UBSan a leak or error also shows here.
        if rc != 0:
            problems.append("controller exited %s on SIGTERM; log:\n%s" % (rc, c.log()[-4000:]))
    assert not problems, "\n".join(problems)


@pytest.fixture
def ctl(make_controller):
    return make_controller()


# Small builders for valid objects, so each test states only what it is about.
def site(name, n, **kw):
    """A valid site with underlay 192.0.2.n-ish and prefix 10.n.0.0/16 (n < 65536)."""
    body = {"name": name, "underlay": "198.18.%d.%d" % (n // 250, n % 250 + 1),
            "prefixes": ["10.%d.%d.0/24" % (n // 256, n % 256)]}
    body.update(kw)
    return body


def profile(name="p1", **kw):
    body = {"name": name}
    body.update(kw)
    return body


def assert_error(r, status, code=None):
    assert r.status == status, r
    assert "json" in (r.header("content-type") or ""), r.headers
    e = r.json["error"]
    assert e["status"] == status, e
    if code:
        assert e["code"] == code, e
    assert isinstance(e["message"], str) and e["message"], e
    assert isinstance(e["details"], list), e
    return e
