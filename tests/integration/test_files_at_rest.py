"""Secrets at rest (issue 9, item 5): the database (every PSK, in plain text) and its
-wal and -shm files are 0600 whatever the umask and the directory; the admin token
file is written through a private temporary file that a planted name cannot capture."""
import os
import stat

import pytest

from conftest import Controller, site


@pytest.fixture
def loose_umask():
    """The controller inherits the umask of the test process."""
    old = os.umask(0o000)
    yield
    os.umask(old)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def write_something(c):
    """A write, so that SQLite has its -wal and -shm files."""
    r = c.post("/v1/sites", site("a", 1))
    assert r.status == 201, r


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_database_files_are_private_whatever_the_umask(tmp_path, umask):
    workdir = tmp_path / "open"
    os.makedirs(workdir)
    os.chmod(workdir, 0o755)
    old = os.umask(umask)
    try:
        c = Controller(workdir).start()
    finally:
        os.umask(old)
    try:
        write_something(c)
        for suffix in ("", "-wal", "-shm"):
            path = c.db + suffix
            assert os.path.exists(path), os.listdir(workdir)
            assert mode(path) == 0o600, (path, oct(mode(path)))
        assert mode(c.token_file) == 0o600
    finally:
        assert c.stop() == 0


def test_existing_readable_database_is_tightened(tmp_path, loose_umask):
    c = Controller(tmp_path / "old").start()
    write_something(c)
    assert c.stop() == 0
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(c.db + suffix):
            os.chmod(c.db + suffix, 0o644)
    c.start()
    try:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(c.db + suffix):
                assert mode(c.db + suffix) == 0o600, suffix
        assert "readable by others" in c.log()
        assert c.get("/v1/sites/a").status == 200       # nothing lost
    finally:
        assert c.stop() == 0


@pytest.mark.parametrize("planted", ["admin.token.tmp", "admin.token"])
def test_token_file_ignores_planted_links(tmp_path, loose_umask, planted):
    """The previous writer opened "<file>.tmp" with O_CREAT|O_TRUNC: a symbolic link
    planted there received the admin token. Neither that name nor the file's own name,
    as a link, may lead the secret anywhere else."""
    workdir = tmp_path / "w"
    os.makedirs(workdir)
    victim = tmp_path / "victim"
    victim.write_text("")
    os.chmod(victim, 0o666)
    os.symlink(str(victim), str(workdir / planted))
    c = Controller(workdir).start()
    try:
        assert victim.read_text() == "", "the secret went through the planted link"
        assert stat.S_ISREG(os.lstat(c.token_file).st_mode)
        assert mode(c.token_file) == 0o600
        assert c.get("/v1/tokens").status == 200
        # No temporary file left behind (the planted link aside).
        left = set(os.listdir(workdir)) - {"admin.token", "admin.token.tmp", "controller.log"}
        # The CA made at first start lives there too (test_pki.py); its key is private
        # whatever the umask.
        assert {"ca.pem", "ca.key"} <= left and mode(str(workdir / "ca.key")) == 0o600
        left -= {"ca.pem", "ca.key"}
        assert all(f.startswith("gresec.db") for f in left), left
    finally:
        assert c.stop() == 0
