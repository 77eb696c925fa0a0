"""The HTTP front against hostile or careless clients (issue 9): request targets refused
before decoding, error messages that never echo raw bytes, bodies not read before the
token is checked, slow and piled-up connections dropped, merge patches on PATCH only,
names checked in the query, core dumps off."""
import json
import resource
import socket
import subprocess
import time

import pytest

from conftest import BINARY, assert_error, free_port, site

TIMEOUT = 1         # --client-timeout of the guarded controllers here, seconds


@pytest.fixture
def gctl(make_controller):
    """A controller with short client timeouts and a small per-address limit."""
    return make_controller("gctl", ["--client-timeout", str(TIMEOUT),
                                    "--max-connections-per-client", "6",
                                    "--poll-timeout", "30"])


def connect(ctl, source="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", ctl.port))
    return s


def raw(ctl, data, source="127.0.0.1"):
    """Sends data as is; returns (status, headers, body) of the answer."""
    s = connect(ctl, source)
    try:
        s.sendall(data)
        return read_response(s)
    finally:
        s.close()


def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        assert chunk, "connection closed before an answer: %r" % buf
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    n = int(headers.get("content-length", "0"))
    while len(body) < n:
        chunk = s.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return status, headers, body


def json_error(status, headers, body, want):
    assert status == want, (status, body)
    assert headers.get("content-type") == "application/json", headers
    e = json.loads(body.decode("utf-8"))["error"]
    assert e["status"] == want and isinstance(e["details"], list) and e["message"], e
    return e


def closed_within(s, seconds):
    """Whether the server closes s (EOF or reset) within seconds."""
    s.settimeout(seconds)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


# ---- request targets and echoed bytes -------------------------------------------------

def test_encoded_slash_and_nul_are_400(ctl):
    ctl.post("/v1/sites", site("hub1", 1))
    for path in ("/v1/sites%2Fhub1", "/v1/sites%2fhub1", "/v1/sites/hub1%00",
                 "/v1/sites/hub%001", "/v1/sites?after=a%00b", "/v1/tunnels?site=hub1%00x"):
        e = assert_error(ctl.get(path), 400, "bad_request")
        assert "%2F" in e["message"] or "%00" in e["message"], e
    # Without a token too, and before anything else is looked at.
    assert_error(ctl.get("/v1/sites%2Fhub1", token=None), 400, "bad_request")
    # An encoded '/' in the query is only a value.
    assert ctl.get("/v1/sites?limit=1&x=%2F").status == 200


def test_query_parameters_are_capped(ctl):
    ok = "&".join("p%d=1" % i for i in range(32))
    assert ctl.get("/v1/sites?" + ok).status == 200
    for n in (33, 600, 3000):
        q = "&".join("p%d=1" % i for i in range(n))
        t = time.monotonic()
        e = assert_error(ctl.get("/v1/sites?" + q, timeout=5), 400, "bad_request")
        assert "query parameters" in e["message"], e
        assert time.monotonic() - t < 3, "the answer took too long"


def test_empty_query_parameters_are_capped_too(gctl):
    """libmicrohttpd 0.9.75 stores an empty parameter ("?&&&") like any other; enough of
    them exhaust its per-connection pool, and it then neither answers nor closes (found
    by fuzz_http: only the header deadline freed the connection). They are refused at
    once, without a token, and the server goes on serving."""
    for target in ("/v1/sites?" + "&" * 600, "/v1/x?" + "&" * 33,
                   "/v1/sites?" + "&&&" * 40 + "a=1"):
        s = connect(gctl)
        try:
            t = time.monotonic()
            s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                       % target).encode())
            e = json_error(*read_response(s), 400)
            assert "query parameters" in e["message"], e
            # Well before the header deadline (TIMEOUT) would have cut it off.
            assert time.monotonic() - t < TIMEOUT / 2, "the answer took too long"
        finally:
            s.close()
    assert raw(gctl, b"GET /v1/sites?" + b"&" * 32 + b" HTTP/1.1\r\nHost: x\r\n"
               b"Connection: close\r\n\r\n")[0] == 401
    assert raw(gctl, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0] == 200


def test_invalid_utf8_is_never_echoed_raw(ctl):
    # A bad byte in the path, without a token.
    status, h, b = raw(ctl, b"GET /%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    e = json_error(status, h, b, 404)
    assert "\ufffd" not in e["message"] and "no such route" in e["message"], e
    # Valid UTF-8 long enough that the message buffer cuts it mid-character.
    path = "/v1/x" + "%c3%a9" * 300
    e = assert_error(ctl.get(path, token=None), 404, "not_found")
    assert e["message"].startswith("no such route: /v1/x\u00e9"), e
    # A bad byte in a Content-Type echoed by a 415.
    body = json.dumps(site("a", 1)).encode()
    req = (b"POST /v1/sites HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           b"Authorization: Bearer " + ctl.admin.encode() + b"\r\n"
           b"Content-Type: text/\xff\xfe\r\nContent-Length: " + str(len(body)).encode() +
           b"\r\n\r\n" + body)
    e = json_error(*raw(ctl, req), 415)
    assert "text/??" in e["message"], e
    # A bad byte in a name segment, for a route that exists.
    status, h, b = raw(ctl, b"GET /v1/sites/%c3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       b"Authorization: Bearer " + ctl.admin.encode() + b"\r\n\r\n")
    assert 400 <= status < 500, (status, b)
    json.loads(b)


def test_after_and_site_must_be_names(ctl):
    for q in ("/v1/sites?after=Hub", "/v1/sites?after=a_b", "/v1/profiles?after=%c3%a9",
              "/v1/topologies?after=-a", "/v1/tunnels?site=x%20y", "/v1/tunnels?site="):
        e = assert_error(ctl.get(q), 400, "bad_request")
        assert e["details"] and e["details"][0]["path"] in ("after", "site"), e
    assert ctl.get("/v1/sites?after=hub1").status == 200
    assert ctl.get("/v1/tunnels?site=hub1").status == 200


def test_merge_patch_is_for_patch_only(ctl):
    mp = "application/merge-patch+json"
    e = assert_error(ctl.post("/v1/sites", json.dumps(site("a", 1)), content_type=mp), 415,
                     "unsupported_media_type")
    assert "PATCH" in e["message"], e
    assert ctl.post("/v1/sites", site("a", 1)).status == 201
    assert_error(ctl.put("/v1/sites/a", json.dumps(site("a", 1)), content_type=mp), 415)
    assert_error(ctl.post("/v1/import", json.dumps({"sites": []}), content_type=mp), 415)
    r = ctl.patch("/v1/sites/a", json.dumps({"description": "d"}), content_type=mp)
    assert r.status == 200, r
    assert ctl.get("/v1/sites/a").json["description"] == "d"


# ---- bodies: no token, no reading ------------------------------------------------------

def head_only(ctl, method, path, length, token=None, ctype="application/json"):
    """Sends a request's headers announcing length bytes of body, and none of them."""
    auth = b"Authorization: Bearer " + token.encode() + b"\r\n" if token else b""
    return raw(ctl, method.encode() + b" " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" +
               auth + b"Content-Type: " + ctype.encode() + b"\r\nContent-Length: " +
               str(length).encode() + b"\r\n\r\n")


def test_refused_requests_are_answered_before_their_body(ctl):
    mib = 1 << 20
    # The socket's timeout is 5 s: each answer comes with the body never sent.
    json_error(*head_only(ctl, "POST", "/v1/sites", mib), 401)
    json_error(*head_only(ctl, "POST", "/v1/import", mib, token="gst_" + "0" * 64), 401)
    viewer = ctl.issue("viewer")
    json_error(*head_only(ctl, "POST", "/v1/import", mib, token=viewer), 403)
    json_error(*head_only(ctl, "PUT", "/v1/nothing", mib, token=ctl.admin), 404)
    json_error(*head_only(ctl, "PUT", "/v1/sites", mib, token=ctl.admin), 405)
    # A token's body may be as large as --max-body; past it, refused on the length.
    e = json_error(*head_only(ctl, "POST", "/v1/import", (32 << 20) + 1, token=ctl.admin), 413)
    assert "limit" in e["message"], e
    # Without a token, only a small body: /healthz is the one route that takes none.
    e = json_error(*head_only(ctl, "GET", "/healthz", mib), 413)
    assert "without a token" in e["message"], e
    assert ctl.get("/healthz", token=None).status == 200


# ---- connections: slow, many, dropped --------------------------------------------------

def test_slow_headers_are_cut_off(gctl):
    idle = connect(gctl)
    trickle = connect(gctl)
    trickle.sendall(b"GET /healthz HTTP/1.1\r\n")
    t = time.monotonic()
    closed = False
    while time.monotonic() - t < TIMEOUT + 3:
        try:
            trickle.sendall(b"X-a: b\r\n")      # a header line every 0.2 s
        except OSError:
            closed = True
            break
        trickle.settimeout(0.2)
        try:
            if trickle.recv(1) == b"":
                closed = True
                break
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = True
            break
    assert closed, "a client trickling its headers was not cut off"
    assert closed_within(idle, 2), "an idle connection was kept"
    idle.close()
    trickle.close()
    assert gctl.get("/healthz", token=None).status == 200


def test_slow_body_is_cut_off(gctl):
    s = connect(gctl)
    s.sendall(b"POST /v1/sites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
              gctl.admin.encode() + b"\r\nContent-Type: application/json\r\n"
              b"Content-Length: 1000\r\n\r\n{")
    t = time.monotonic()
    closed = False
    while time.monotonic() - t < TIMEOUT + 4:
        try:
            s.sendall(b" ")
        except OSError:
            closed = True
            break
        if closed_within(s, 0.3):
            closed = True
            break
    s.close()
    assert closed, "a client trickling its body was not cut off"


def test_connections_per_address_are_capped(gctl):
    held = [connect(gctl) for _ in range(6)]
    try:
        extra = connect(gctl)
        assert closed_within(extra, 1), "a 7th connection from one address was served"
        extra.close()
        # Another address is served meanwhile (all of 127/8 is this host).
        status, h, b = raw(gctl, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close"
                           b"\r\n\r\n", source="127.0.0.2")
        assert status == 200, b
    finally:
        for s in held:
            s.close()


def test_dropped_long_polls_free_their_connections_at_once(gctl):
    assert gctl.post("/v1/sites", site("s1", 1)).status == 201
    r = gctl.post("/v1/sites/s1/agent-token")
    assert r.status == 201, r
    token = r.json["token"]
    gctl.secrets.add(token)
    rev = gctl.get("/v1/agents/s1/intent", token=token).json["revision"]
    polls = []
    for _ in range(6):
        s = connect(gctl)
        s.sendall(("GET /v1/agents/s1/intent?after=%d HTTP/1.1\r\nHost: x\r\n"
                   "Authorization: Bearer %s\r\n\r\n" % (rev, token)).encode())
        polls.append(s)
    time.sleep(0.3)
    for s in polls:         # every slot of this address is a held poll now...
        s.close()
    # ...and once they are dropped, the address is served again well before the
    # 30 s poll timeout.
    deadline = time.monotonic() + 3
    while True:
        try:
            status, _, _ = raw(gctl, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                               b"Connection: close\r\n\r\n")
            if status == 200:
                break
        except (AssertionError, OSError):
            pass
        assert time.monotonic() < deadline, "dropped polls still hold their connections"
        time.sleep(0.1)


def test_no_core_dumps(ctl):
    with open("/proc/%d/limits" % ctl.proc.pid) as f:
        line = [l for l in f if l.startswith("Max core file size")][0]
    assert line.split()[4:6] == ["0", "0"], line


def test_connection_limit_fits_the_open_file_limit(tmp_path):
    """Under a low open-file limit the default --max-connections shrinks to fit (with a
    warning) and the controller serves; an explicit value that does not fit is refused."""
    def low():
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))

    def run(extra, name):
        port = free_port()
        return subprocess.Popen(
            [BINARY, "--db", str(tmp_path / (name + ".db")), "--listen", "127.0.0.1:%d" % port]
            + extra, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, preexec_fn=low), port

    p, port = run(["--max-connections", "4096"], "explicit")
    out, _ = p.communicate(timeout=10)
    assert p.returncode != 0
    assert "--max-connections 4096 needs an open-file limit of at least 4160 (it is 200" in out
    p, port = run([], "default")
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert p.poll() is None and time.monotonic() < deadline, p.stdout.read()
                time.sleep(0.05)
    finally:
        p.terminate()
        out, _ = p.communicate(timeout=10)
    assert "open-file limit 200: at most 136 connections" in out, out
