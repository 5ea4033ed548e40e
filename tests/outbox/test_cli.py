"""`ketenherstel outbox …` through Typer's runner, on the sub-app."""

from __future__ import annotations

import stat
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from ketenherstel.outbox import verify_bundle
from ketenherstel.outbox.cli import app
from ketenherstel.outbox.keys import parse_public_key
from tests.factories import given_twice
from tests.outbox.conftest import OM_OIN, OM_SOURCE, LiveExchange, closed_port, summons

runner = CliRunner()
CLEAN_ENV = {
    "KETENHERSTEL_OUTBOX_DB": None,
    "KETENHERSTEL_OUTBOX_KEY": None,
    "KETENHERSTEL_URL": None,
    "KETENHERSTEL_TOKEN": None,
    "KETENHERSTEL_OUTBOX_TOKEN": None,
}


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={**CLEAN_ENV, **(env or {})})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "outbox.db")
    code, _, err = run("init", "--db", path, "--oin", OM_OIN, "--source", OM_SOURCE)
    assert code == 0, err
    return path


def jsonl(path: Path, events: list[object]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    return path


@pytest.mark.parametrize(
    "command", ["init", "keygen", "pubkey", "write", "status", "forward", "serve", "export"]
)
def test_every_command_has_help(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0 and "Usage" in out


def test_init_refuses_a_source_of_another_oin(tmp_path: Path) -> None:
    code, _, err = run(
        "init",
        "--db",
        str(tmp_path / "x.db"),
        "--oin",
        "00000001003214345000",
        "--source",
        OM_SOURCE,
    )
    assert code == 2 and "does not belong to OIN" in err
    # A system the chain does not give the OM: every write would be refused (a review).
    wrong = OM_SOURCE.replace(":gps", ":gpss")
    code, _, err = run("init", "--db", str(tmp_path / "y.db"), "--oin", OM_OIN, "--source", wrong)
    said = " ".join(err.split())
    assert code == 2 and "om has no system 'gpss' in the chain model; its systems: gps" in said
    assert not (tmp_path / "y.db").exists()


def test_write_then_status(db: str, tmp_path: Path) -> None:
    code, out, _ = run(
        "write", str(jsonl(tmp_path / "e.jsonl", [summons(), summons()])), "--db", db
    )
    assert code == 0 and "2 written, 0 duplicates; sequences 1-2" in out
    code, out, _ = run("status", "--db", db)
    assert code == 0 and "2 pending" in out and "not tried yet" in out
    code, out, _ = run("status", "--json", env={"KETENHERSTEL_OUTBOX_DB": db})
    assert code == 0 and orjson.loads(out)["pending"] == 2


def test_a_json_array_file_is_written_too(db: str, tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_bytes(orjson.dumps([summons(), summons(), summons()]))
    code, out, _ = run("write", str(path), "--db", db)
    assert code == 0 and "3 written" in out


def test_a_bad_line_is_named_and_nothing_is_written(db: str, tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(orjson.dumps(summons()) + b"\n\n{broken\n")
    code, _, err = run("write", str(path), "--db", db)
    assert code == 2 and "line 3: not valid JSON" in err
    path.write_bytes(orjson.dumps(summons()) + b'\n{"caf\xe9": 1}\n')  # cp1252, say
    code, _, err = run("write", str(path), "--db", db)
    said = " ".join(err.split())
    assert code == 2 and "not UTF-8 text: byte 0xe9 at line 2" in said and "surrogates" not in said
    invalid = jsonl(tmp_path / "f.jsonl", [summons(), summons(), summons(type="x.v1")])
    code, _, err = run("write", str(invalid), "--db", db)
    assert code == 2 and "line 3 type: unknown message type 'x.v1'" in err
    assert "nothing was written" in err
    code, out, _ = run("status", "--db", db)
    assert "0 pending" in out


def test_a_key_given_twice_is_named_with_its_line_and_nothing_is_written(
    db: str, tmp_path: Path
) -> None:
    """orjson kept the second case number, and the outbox signed and forwarded it."""
    twice = given_twice(orjson.dumps(summons()), "parketnummer", "10-999999-25")
    lines = tmp_path / "e.jsonl"
    lines.write_bytes(orjson.dumps(summons()) + b"\n" + twice + b"\n")
    array = tmp_path / "e.json"
    array.write_bytes(b"[" + orjson.dumps(summons()) + b"," + twice + b"]")
    for path, where in [(lines, "line 2"), (array, "event 1")]:
        code, _, err = run("write", str(path), "--db", db)
        said = " ".join(err.split())
        assert code == 2, err
        assert "gives a key twice in one object (give each key once); nothing was written" in said
        assert f"{where}: the key 'parketnummer' appears twice in the object at data" in said
    code, out, _ = run("status", "--db", db)
    assert "0 pending" in out


def test_missing_outbox_or_file_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = run("status", "--db", str(tmp_path / "none.db"))
    assert code == 2 and "outbox init" in err
    code, _, err = run("write", str(tmp_path / "none.jsonl"), "--db", str(tmp_path / "x"))
    assert code == 2 and "no such file" in err


def test_a_db_that_cannot_be_a_file_is_one_line_naming_it(tmp_path: Path) -> None:
    """`init --db DIR` was a traceback (sqlite3.OperationalError: unable to open database
    file), exit 1. A directory, a folder under a file and one that cannot be made are refused
    with one line naming --db, exit 2, and nothing is made; a folder not there yet is made."""
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    for db, needle in (
        (tmp_path / "adir", "is a directory; give the outbox's file"),
        (tmp_path / "afile" / "sub" / "o.db", f"{tmp_path / 'afile'} is not a directory"),
        (Path("/proc/ketenherstel/o.db"), "cannot write there"),
    ):
        code, out, err = run("init", "--oin", OM_OIN, "--source", OM_SOURCE, "--db", str(db))
        assert code == 2 and out == "", (db, err)
        assert f"--db {db}" in err and needle in err and len(err.strip().splitlines()) == 1
    code, _, err = run("status", "--db", str(tmp_path / "adir"))
    assert code == 2 and f"--db {tmp_path / 'adir'} is a directory" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    made = tmp_path / "new" / "box" / "o.db"
    code, _, err = run("init", "--oin", OM_OIN, "--source", OM_SOURCE, "--db", str(made))
    assert code == 0 and made.is_file(), err


def test_a_db_that_is_there_but_no_regular_file_is_refused_and_nothing_made() -> None:
    """--db /dev/full was a 'disk is full' traceback that left /dev/full-journal behind. A
    socket stands in for the device: nothing is ever opened in /dev."""
    import socket
    import tempfile

    with tempfile.TemporaryDirectory(dir="/tmp") as folder, socket.socket(socket.AF_UNIX) as s:
        sock = Path(folder) / "s"
        s.bind(str(sock))
        for args in (["init", "--oin", OM_OIN, "--source", OM_SOURCE], ["status"]):
            code, _, err = run(*args, "--db", str(sock))
            assert code == 2 and f"--db {sock} is not a regular file" in err, err
        assert sorted(p.name for p in Path(folder).iterdir()) == ["s"]


def test_keygen_writes_a_private_key_0600_and_prints_the_public_key(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "om.pem"
    code, out, err = run("keygen", "--key", str(key))
    assert code == 0 and "register this public key" in err
    assert len(parse_public_key(out.strip())) == 32
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert run("pubkey", "--key", str(key))[1] == out
    code, _, err = run("keygen", "--key", str(key))
    assert code == 2 and "never overwritten" in err


def test_a_file_that_holds_no_usable_key_is_named_in_our_words(tmp_path: Path) -> None:
    """The library's 'Unable to load PEM file. See https://cryptography.io/… MalformedFraming'
    reached the user (a review)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    locked = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    for content, says in (
        (b"receiver,sender\n", "not a PEM private key (it has no '-----BEGIN PRIVATE KEY-----'"),
        (b"-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n", "damaged"),
        (locked, "an encrypted private key"),
    ):
        path = tmp_path / "key.pem"
        path.write_bytes(content)
        code, _, err = run("pubkey", "--key", str(path))
        said = " ".join(err.split())
        assert code == 2 and says in said, said
        assert "cryptography.io" not in said and "Malformed" not in said


def test_keygen_refuses_a_key_path_it_cannot_make(tmp_path: Path) -> None:
    """/proc/x/k.pem was a FileNotFoundError traceback; FILE/k.pem is refused as well."""
    (tmp_path / "file").write_text("x")
    for key in (Path("/proc/x/k.pem"), tmp_path / "file" / "k.pem"):
        code, out, err = run("keygen", "--key", str(key))
        assert code == 2 and f"cannot create {key}" in err and not out, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_keygen_on_a_full_disk_leaves_no_half_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("ketenherstel.outbox.keys.os.fsync", full)
    key = tmp_path / "om.pem"
    code, out, err = run("keygen", "--key", str(key))
    assert code == 2 and f"cannot write {key}" in err and "No space left" in err, err
    assert not out and not key.exists()


def test_export_writes_a_bundle_the_printed_key_verifies(db: str, tmp_path: Path) -> None:
    key = tmp_path / "om.pem"
    public = parse_public_key(run("keygen", "--key", str(key))[1].strip())
    run("write", str(jsonl(tmp_path / "e.jsonl", [summons(), summons()])), "--db", db)
    bundle = tmp_path / "om-1.khb"
    code, out, err = run("export", "--out", str(bundle), "--key", str(key), "--db", db)
    assert code == 0, err
    assert "2 events" in out and "sequences 1-2" in out
    verified = verify_bundle(
        bundle.read_bytes(), public_keys={OM_OIN: public}, expected_oin=OM_OIN, last=lambda s: None
    )
    assert verified.count == 2
    code, _, err = run("export", "--out", str(tmp_path / "again"), "--key", str(key), "--db", db)
    assert code == 2 and "nothing to export" in err
    code, _, err = run("export", "--out", str(tmp_path / "x"), "--key", str(tmp_path / "no.pem"))
    assert code == 2 and "outbox keygen" in err


def test_export_holds_at_most_max_events_and_names_what_waits(db: str, tmp_path: Path) -> None:
    """`--max-events 5` of 29 wrote 29 (with a range); messages of another source of the
    OIN were not exported and not named ('nothing was written from ...')."""
    key = tmp_path / "om.pem"
    run("keygen", "--key", str(key))
    other = f"urn:nld:oin:{OM_OIN}:systeem:compas"
    events = [summons(source=other) for _ in range(18)]
    run("write", str(jsonl(tmp_path / "c.jsonl", events)), "--db", db)
    code, out, err = run("export", "--out", str(tmp_path / "a"), "--key", str(key), "--db", db)
    assert code == 2 and out == "" and "nothing was written from" in err
    assert f"18 from {other}" in err and "export each with --source" in err
    run("write", str(jsonl(tmp_path / "e.jsonl", [summons() for _ in range(29)])), "--db", db)
    for args, wrote, left in (
        (("--last", "29"), "sequences 1-5", "sequences 6-29 wait for the next bundle"),
        ((), "sequences 6-10", "sequences 11-29 wait for the next bundle"),
    ):
        bundle = tmp_path / f"b{len(args)}.khb"
        code, out, err = run(
            "export", "--out", str(bundle), "--key", str(key), "--db", db, "--max-events", "5",
            *args,
        )  # fmt: skip
        said = " ".join(out.split())
        assert code == 0, err
        assert f"5 events of {OM_SOURCE}, {wrote}" in said and left in said, said
        assert f"note: 18 messages of {other} not yet forwarded or bundled" in said
        assert f"export them with --source {other}" in said
    code, out, err = run(
        "export", "--out", str(tmp_path / "c.khb"), "--key", str(key), "--db", db,
        "--source", other,
    )  # fmt: skip
    assert code == 0 and f"18 events of {other}" in out, err
    assert f"note: 19 messages of {OM_SOURCE} not yet forwarded" in " ".join(out.split())
    code, out, err = run("export", "--help")
    assert "a bundle holds one source" in " ".join(out.split())


@pytest.mark.parametrize(
    ("out", "needle"), [("missing/b.khb", "there is no directory"), (".", "is a directory")]
)
def test_an_export_to_a_path_it_cannot_write_changes_nothing(
    db: str, tmp_path: Path, out: str, needle: str
) -> None:
    key = tmp_path / "om.pem"
    run("keygen", "--key", str(key))
    run("write", str(jsonl(tmp_path / "e.jsonl", [summons()])), "--db", db)
    target = str(tmp_path / out)
    code, stdout, err = run("export", "--out", target, "--key", str(key), "--db", db)
    assert code == 2 and stdout == ""
    assert f"--out {target}" in err and needle in err
    _, status, _ = run("status", "--db", db)
    assert "bundled up to 0, 1 pending" in status
    code, stdout, err = run(
        "export", "--out", str(tmp_path / "b.khb"), "--key", str(key), "--db", db
    )
    assert code == 0 and "sequences 1-1" in stdout, err


def test_forward_once_exits_1_while_unreachable_and_0_when_done(
    db: str, tmp_path: Path, exchange: LiveExchange
) -> None:
    run("write", str(jsonl(tmp_path / "e.jsonl", [summons(), summons()])), "--db", db)
    dead = f"http://127.0.0.1:{closed_port()}"
    code, _, err = run("forward", "--once", "--db", db, "--url", dead, "--token", exchange.token)
    assert code == 1 and "unreachable" in err and "2 kept pending" in err
    env = {"KETENHERSTEL_URL": exchange.url, "KETENHERSTEL_TOKEN": exchange.token}
    code, _, err = run("forward", "--once", "--db", db, env=env)
    assert code == 0 and "forwarded 2" in err
    code, _, err = run("forward", "--once", "--db", db, "--url", exchange.url, "--token", "bad")
    assert code == 0  # nothing pending, nothing to refuse
    run("write", str(jsonl(tmp_path / "f.jsonl", [summons()])), "--db", db)
    code, _, err = run("forward", "--once", "--db", db, "--url", exchange.url, "--token", "bad")
    assert code == 2 and "refused" in err
    code, _, err = run("forward", "--once", "--db", db)
    assert code == 2 and "--token" in err
    for typo in ("notaurl", "ftp://h/", "http://", "http://h:port/"):  # a mistake, not an outage
        code, _, err = run("forward", "--once", "--db", db, "--url", typo, "--token", "t")
        assert code == 2 and f"--url {typo!r} is not" in err, err


def test_serve_refuses_a_forwarding_url_that_is_no_http_address_before_it_listens(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It listened, and forwarded to 'notaurl' every round, forever, as to an exchange that is
    down: a typo is a mistake to report at start (exit 2), as `forward` does."""
    from ketenherstel.outbox.http import OutboxHTTPServer

    listened: list[object] = []

    def interrupted(self: OutboxHTTPServer, *args: object, **kwargs: object) -> None:
        listened.append(self)
        raise KeyboardInterrupt  # Ctrl-C at once: without the check, serve ran and exited 0

    monkeypatch.setattr(OutboxHTTPServer, "serve_forever", interrupted)
    port = str(closed_port())
    for typo in ("notaurl", "ftp://h/", "http://", "http://h:port/", "http://a b/"):
        code, _, err = run("serve", "--db", db, "--port", port, "--url", typo, "--token", "t")
        assert code == 2 and f"--url {typo!r} is not an http:// or https:// address" in err, err
        env = {"KETENHERSTEL_URL": typo, "KETENHERSTEL_TOKEN": "t"}
        code, _, err = run("serve", "--db", db, "--port", port, env=env)
        assert code == 2 and f"--url {typo!r} is not" in err, err
    assert listened == []
    # Without --url it only serves; with a good one it serves and forwards.
    for args in ([], ["--url", "http://127.0.0.1:9", "--token", "t"]):
        code, _, err = run("serve", "--db", db, "--port", port, *args)
        assert code == 0 and "listening on" in err, err
    assert len(listened) == 2


def test_markup_in_a_path_is_shown_in_the_error_not_applied(tmp_path: Path) -> None:
    code, _, err = run("status", "--db", str(tmp_path / "no[/ne].db"))
    assert code == 2 and "no[/ne].db" in err
