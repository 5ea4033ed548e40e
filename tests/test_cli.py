"""The command line through Typer's runner: happy paths and every kind of bad input."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from ketenherstel.bootstrap import bootstrap
from ketenherstel.cli import app
from ketenherstel.settings import Settings
from ketenherstel.web.server import ServerThread
from tests.factories import POLITIE_SOURCE, given_twice, pv_event
from tests.stores import made

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path) -> str:
    return made(f"sqlite:///{tmp_path}/cli.db")


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _command_paths() -> list[list[str]]:
    """Every command and group of the CLI, walked from the Typer app itself."""
    import typer

    found: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        found.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def test_every_command_has_help() -> None:
    paths = _command_paths()
    assert len(paths) > 100 and ["gateway", "listen"] in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "120"})
        assert result.exit_code == 0, (path, result.exception)
        assert "Usage" in result.stdout, path


def test_help_shows_square_brackets_as_written() -> None:
    """Typer renders help as Rich markup, where an unescaped [hh:mm] is a tag and vanished."""
    for path, shown in [
        (["manual", "add"], "dd-mm-yyyy [hh:mm] or ISO"),
        (["procedure", "add"], "From when: dd-mm-yyyy [hh:mm]"),
        (["gateway", "scan"], "(CSV prefix,asn[,name])"),
    ]:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (path, result.exception)
        assert shown in result.stdout, path


def test_no_help_text_loses_words_to_rich_markup() -> None:
    """Every command's and option's help, rendered as Typer renders it (Rich markup), shows all
    it says: square brackets that Rich would take as a tag are escaped (``\\[``)."""
    import typer
    from rich.text import Text

    def walk(command: Any, path: str) -> Iterator[tuple[str, str]]:
        yield path, command.help or ""
        for param in command.params:
            yield f"{path} {param.name}", getattr(param, "help", None) or ""
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")

    lost = [
        (where, text)
        for where, text in walk(typer.main.get_command(app), "ketenherstel")
        if Text.from_markup(text).plain != text.replace("\\[", "[")
    ]
    assert lost == []


def test_init_registers_partners_and_prints_an_operator_token(store: str) -> None:
    code, out, _ = run("init", "--store", store)
    assert code == 0
    assert "partners registered: 12" in out
    assert "kh_" in out
    code, out, _ = run("partner", "list", "--store", store)
    assert "politie" in out and "00000001003214345000" in out


def test_init_refuses_a_store_it_cannot_make_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty --store, a URL without a path, a directory, a file that is not SQLite or a
    path under a file: one line naming the problem, exit 2, no traceback, nothing made."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    lines = tmp_path / "x.jsonl"
    lines.write_text('{"a": 1}\n')
    before = sorted(p.name for p in tmp_path.rglob("*"))
    for store, needle in [
        ("", "store URL is empty"),
        ("sqlite:///", "needs a path"),
        ("adir", "adir is a directory"),
        (f"sqlite:///{tmp_path}/adir", "is a directory"),
        ("x.jsonl", "x.jsonl is not a store (not a SQLite database"),
        ("x.jsonl/s.db", "is not a directory"),
    ]:
        result = runner.invoke(app, ["init", "--store", store])
        assert result.exit_code == 2, (store, result.exception)
        assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1, store
        assert sorted(p.name for p in tmp_path.rglob("*")) == before, store
    assert lines.read_text() == '{"a": 1}\n'


def test_init_makes_an_empty_file_a_store(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    assert run("init", "--store", str(empty))[0] == 0
    assert run("partner", "list", "--store", str(empty))[0] == 0


def _audit(store: str) -> list[tuple[str, str, str]]:
    """(actor, action, object) of the store's audit log, oldest first."""
    rt = bootstrap(Settings(store_url=store))
    try:
        return [(a.actor, a.action, a.object) for a in reversed(rt.store.audit_log(limit=1000))]
    finally:
        rt.close()


# Every command that changes the store from the command line, with what else it needs.
_CHANGES: list[list[str]] = [
    ["partner", "add", "om"],
    ["partner", "signing-key", "politie", "A" * 43 + "="],
    ["import-bundle", "BUNDLE"],
    ["token", "create", "--partner", "om"],
    ["token", "rotate", "cred-x"],
    ["token", "revoke", "cred-x"],
    ["purge", "--older-than-days", "30"],
    ["purge", "--older-than-days", "30", "--dry-run"],
]


@pytest.mark.parametrize("command", _CHANGES, ids=lambda c: " ".join(c[:2]))
def test_a_change_names_its_operator_or_changes_nothing(
    store: str, tmp_path: Path, command: list[str]
) -> None:
    bundle = tmp_path / "bundle.jsonl"
    bundle.write_bytes(b"{}\n")
    args = [str(bundle) if a == "BUNDLE" else a for a in command]
    before = _audit(store)
    code, _, err = run(*args, "--store", store)
    assert code == 2 and "Missing option '--as'" in err
    for bad, why in [(" ", "--as names you"), ("a\x1bb", "control"), ("local-cli", "own name")]:
        code, _, err = run(*args, "--as", bad, "--store", store)
        assert code == 2 and why in err, (bad, err)
    assert _audit(store) == before


def test_the_operator_named_is_who_in_the_audit_log_and_a_tokens_maker(store: str) -> None:
    assert run("partner", "add", "om", "--as", "Anna de Vries", "--store", store)[0] == 0
    code, out, err = run(
        "token", "create", "--partner", "om", "--as", "Anna de Vries", "--store", store
    )
    assert code == 0, err
    code, out, _ = run("token", "list", "--store", store)
    assert "Anna de Vries" in out and "local-cli" not in out
    cred = next(w for w in out.split() if w.startswith("cred-"))
    assert run("token", "revoke", cred, "--as", "Bram", "--store", store)[0] == 0
    assert run("purge", "--older-than-days", "30", "--as", "Bram", "--store", store)[0] == 0
    mine = [(actor, action) for actor, action, _ in _audit(store) if actor != "exchange"]
    assert ("Anna de Vries", "partner-registered") in mine
    assert ("Anna de Vries", "token-created") in mine
    assert ("Bram", "token-revoked") in mine
    assert ("Bram", "purged") in mine
    assert all(actor != "local-cli" for actor, _ in mine[-4:])


# The reads at the command line that the audit log records, with what each records.
_READS: list[tuple[list[str], str]] = [
    (["token", "list"], "credentials-read"),
    (["quarantine", "list"], "quarantine-read"),
    (["manual", "list"], "manual-read"),
    (["manual", "show", "1"], "manual-read"),
    # the paper records no message accounts for, then the messages (their cases) no record does
    (["manual", "unmatched"], "manual-read,unmatched-read"),
]


@pytest.mark.parametrize(("command", "action"), _READS)
def test_a_read_is_audited_as_the_operator_named_or_else_the_os_login(
    store: str, monkeypatch: pytest.MonkeyPatch, command: list[str], action: str
) -> None:
    """Who read personal data at the command line: the person --as names, as a change names
    them; without --as, the machine's login (the command line's own name, with it), so the
    audit log no longer says only `local-cli`. A bad --as reads nothing."""
    import getpass

    monkeypatch.setattr(getpass, "getuser", lambda: "jdevries")
    code, _, err = run(
        "manual", "add", "--partner", "om", "--case", "13-100001-25",
        "--type", "uitspraak-geregistreerd", "--when", "21-07-2025", "--role", "griffie",
        "--field", "judgmentDate=18-07-2025", "--as", "ann", "--store", store,
    )  # fmt: skip
    assert code == 0, err
    for who, actor in [((), "local-cli:jdevries"), (("--as", "Bram Bakker"), "Bram Bakker")]:
        before = _audit(store)
        code, _, err = run(*command, *who, "--store", store)
        assert code == 0, err
        assert [(a, act) for a, act, _ in _audit(store)[len(before) :]] == [
            (actor, one) for one in action.split(",")
        ]
    before = _audit(store)
    for bad, why in [(" ", "--as names you"), ("local-cli", "own name"), ("Local-CLI:x", "own")]:
        code, out, err = run(*command, "--as", bad, "--store", store)
        assert code == 2 and why in err and out == "", (bad, err)
    assert _audit(store) == before


def test_the_login_of_a_read_without_as_is_a_name_a_briefing_scrubs(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit trail's actors are names the publication version leaves out; the command
    line's own name is none, the login behind it is."""
    import getpass

    from ketenherstel.briefings import names_of
    from ketenherstel.picture.db import open_picture_db
    from ketenherstel.picture.service import Picture
    from ketenherstel.store.manual_ports import manual_store

    monkeypatch.setattr(getpass, "getuser", lambda: "jdevries")
    assert run("quarantine", "list", "--store", store)[0] == 0
    rt = bootstrap(Settings(store_url=store))
    db = open_picture_db(str(tmp_path / "picture.db"))
    try:
        picture = Picture(rt.store, manual_store(rt.store), rt.chain, db, rt.exchange.clock)
        names = names_of(rt, picture)
    finally:
        db.close()
        rt.close()
    assert "jdevries" in names and not any(n.startswith("local-cli") for n in names)


def test_init_names_the_first_operator_as_who_set_the_store_up(tmp_path: Path) -> None:
    path = f"sqlite:///{tmp_path}/first.db"
    code, out, err = run("init", "--operator", "Anna de Vries", "--store", path)
    assert code == 0, err
    assert "operator token for Anna de Vries" in out
    actors = {actor for actor, _, _ in _audit(path)}
    assert "Anna de Vries" in actors and "local-cli" not in actors
    code, _, err = run("init", "--operator", "local-cli", "--store", f"sqlite:///{tmp_path}/x.db")
    assert code == 2 and "own name" in err
    assert not (tmp_path / "x.db").exists()


def test_partner_add_rejects_unknown_partner_and_changes_nothing(store: str) -> None:
    code, _, err = run("partner", "add", "nobody", "--as", "anna", "--store", store)
    assert code == 2
    assert "not a partner in the chain model" in err
    code, out, _ = run("partner", "list", "--store", store)
    assert "nobody" not in out


def test_partner_add_twice_is_an_error(store: str) -> None:
    assert run("partner", "add", "om", "--as", "anna", "--store", store)[0] == 0
    code, _, err = run("partner", "add", "om", "--as", "anna", "--store", store)
    assert code == 2 and "already registered" in err


def test_token_create_needs_exactly_one_holder(store: str) -> None:
    code, _, err = run("token", "create", "--as", "anna", "--store", store)
    assert code == 2 and "exactly one" in err
    code, _, err = run(
        "token", "create", "--partner", "om", "--viewer", "x", "--as", "anna", "--store", store
    )
    assert code == 2
    for option, what in (("--operator", "a person's name"), ("--partner", "a partner's key")):
        code, _, err = run("token", "create", option, "", "--as", "anna", "--store", store)
        assert code == 2 and f"{option}: give {what}, not an empty text" in err, err


def test_token_create_list_rotate_revoke(store: str) -> None:
    run("partner", "add", "om", "--as", "anna", "--store", store)
    code, out, _ = run("token", "create", "--partner", "om", "--as", "anna", "--store", store)
    token = out.strip()
    assert code == 0 and token.startswith("kh_")
    code, out, _ = run("token", "list", "--store", store)
    assert token not in out
    cred = next(w for w in out.split() if w.startswith("cred-"))
    code, out, _ = run("token", "rotate", cred, "--as", "anna", "--store", store)
    assert code == 0 and out.strip().startswith("kh_") and out.strip() != token
    code, _, err = run("token", "revoke", "cred-doesnotexist", "--as", "anna", "--store", store)
    assert code == 1 and "no credential" in err  # does not exist: 1, as cli_common.fail says


def test_token_create_refuses_a_long_label_or_one_with_control_characters(store: str) -> None:
    """A label of 100,000 characters and one with a bell and an escape sequence were taken
    (exit 0): refused now as the API refuses them, exit 2, nothing made or logged."""
    from ketenherstel.store import open_store

    before = _audit(store)
    for label, why in (
        ("x" * 100_000, "a token's label is at most 200 characters, not 100,000"),
        ("\x07bell\x1b[31m", "a token's label holds no control or invisible characters (U+0007)"),
    ):
        code, out, err = run(
            "token", "create", "--viewer", "lab", "--label", label, "--as", "anna", "--store", store
        )
        assert code == 2 and out == "" and why in err, err
        assert len(err.strip().splitlines()) == 1
    check = open_store(store)
    assert check.list_credentials() == []
    check.close()
    assert _audit(store) == before


def test_token_list_shows_every_credential_id_whole_in_80_columns(store: str) -> None:
    """`token revoke` and `rotate` take the id: in a terminal of 80 columns (or a pipe) the
    table cut it to `cred-5a88b56a16…`; the label wraps instead."""
    for holder in ("lab", "a-viewer-with-a-rather-long-name"):
        code, _, err = run(
            "token", "create", "--viewer", holder, "--label", "what it is for " * 5,
            "--as", "anna", "--store", store,
        )  # fmt: skip
        assert code == 0, err
    from ketenherstel.store import open_store

    check = open_store(store)
    ids = [c.id for c in check.list_credentials()]
    check.close()
    result = runner.invoke(app, ["token", "list", "--store", store], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert len(ids) == 2 and all(i in result.stdout for i in ids), result.stdout
    assert "…" not in result.stdout  # a long holder is folded, not cut


def test_token_revoke_of_a_revoked_credential_says_so_and_logs_nothing(store: str) -> None:
    """It printed `revoked ...` again and wrote a second token-revoked audit entry."""
    assert run("token", "create", "--viewer", "lab", "--as", "anna", "--store", store)[0] == 0
    code, out, _ = run("token", "list", "--store", store)
    cred = next(w for w in out.split() if w.startswith("cred-"))
    code, out, _ = run("token", "revoke", cred, "--as", "anna", "--store", store)
    assert code == 0 and out.strip() == f"revoked {cred}"
    code, out, err = run("token", "revoke", cred, "--as", "bram", "--store", store)
    assert code == 0, err
    said = " ".join(out.split())
    assert said.startswith(f"{cred} was already revoked on 20") and "(UTC); nothing changed" in said
    revoked = [(actor, obj) for actor, action, obj in _audit(store) if action == "token-revoked"]
    assert revoked == [("anna", cred)]


@pytest.mark.parametrize(
    "given", ["nan", "inf", "-inf", "1e400", "-1", "0", "0.0", "1e-300", "0.00001", "fast", ""]
)
def test_channel_open_refuses_a_rate_saying_what_a_rate_is_and_quoting_it(
    store: str, given: str
) -> None:
    result = runner.invoke(
        app,
        [
            "channel",
            "open",
            "om",
            "--reason",
            "x",
            f"--rate={given}",
            "--as",
            "ann",
            "--store",
            store,
        ],
        env={"COLUMNS": "200"},
    )
    said = " ".join(result.stderr.replace("│", " ").split())
    assert result.exit_code == 2, result.stdout
    assert "a rate is a positive number of messages per second" in said
    assert f"not {given!r}" in said
    code, out, _ = run("channel", "list", "--store", store)
    assert code == 0 and "no channel rules" in out  # nothing set


def test_channel_open_takes_any_rate_of_at_least_one_a_day(store: str) -> None:
    """Also below 0.001 a second, as a plan's 1/d (Typer's minimum of 0.001 is gone)."""
    for given, shown in (("2", "2/s"), ("0.5", "0.5/s"), ("0.0000116", "1.16e-05/s")):
        code, out, _ = run(
            "channel",
            "open",
            "om",
            "--reason",
            "x",
            "--rate",
            given,
            "--as",
            "ann",
            "--store",
            store,
        )
        assert code == 0 and f"open at {shown}" in out, given


def test_import_bundle_reads_a_file_whose_line_ends_became_crlf(store: str, tmp_path: Path) -> None:
    from ketenherstel.outbox.bundle import build_bundle
    from ketenherstel.outbox.keys import generate_private_key, public_key_b64
    from ketenherstel.store import open_store

    key = generate_private_key()
    run("init", "--store", store)
    code, _, err = run(
        "partner", "signing-key", "politie", public_key_b64(key), "--as", "anna", "--store", store
    )
    assert code == 0, err
    # The same key again wrote it and an audit record again, saying nothing (a review).
    check = open_store(store)
    before = (check.partner_keys(), check.audit_log(limit=1_000))
    check.close()
    code, out, _ = run(
        "partner", "signing-key", "politie", public_key_b64(key), "--as", "anna", "--store", store
    )
    assert code == 0 and "already; nothing changed" in " ".join(out.split())
    check = open_store(store)
    assert (check.partner_keys(), check.audit_log(limit=1_000)) == before
    check.close()
    other = public_key_b64(generate_private_key())
    code, out, _ = run("partner", "signing-key", "politie", other, "--as", "anna", "--store", store)
    said = " ".join(out.split())
    assert code == 0 and f"which replaces {public_key_b64(key)}: bundles the old key" in said
    code, out, _ = run(
        "partner", "signing-key", "politie", public_key_b64(key), "--as", "anna", "--store", store
    )
    assert code == 0 and f"replaces {other}" in " ".join(out.split())
    built = build_bundle(
        private_key=key,
        source=POLITIE_SOURCE,
        events=[pv_event(sequence=1)],
        previous_digest=None,
        created_at="2025-08-01T10:00:00Z",
    )
    exported, carried = tmp_path / "politie.bundle", tmp_path / "politie-windows.bundle"
    exported.write_bytes(built.data)
    carried.write_bytes(built.data.replace(b"\n", b"\r\n"))
    result = runner.invoke(
        app,
        ["import-bundle", str(carried), "--as", "anna", "--store", store],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.stderr
    assert "1-1: 1 accepted" in result.stdout
    assert "line ends had been changed to CRLF" in result.stdout
    code, _, err = run("import-bundle", str(exported), "--as", "anna", "--store", store)
    assert code == 2 and "replayed" in err
    # A device was read until memory ran out (a review gave /dev/zero); a file too large is
    # refused by its size, before it is read.
    code, _, err = run("import-bundle", "/dev/zero", "--as", "anna", "--store", store)
    assert code == 2 and "/dev/zero: is no regular file (a device or a pipe)" in err
    huge = tmp_path / "huge.bundle"
    with huge.open("wb") as fh:
        fh.truncate(256 * 1024 * 1024 + 1)  # sparse: nothing written
    code, _, err = run("import-bundle", str(huge), "--as", "anna", "--store", store)
    said = " ".join(err.split())
    assert code == 2 and "a bundle is at most 268,435,456 bytes; this file has 268,435,457" in said


def test_channel_hold_and_open(store: str) -> None:
    me = ("--as", "ann", "--store", store)
    code, out, _ = run("channel", "hold", "om", "--reason", "OM offline", *me)
    assert code == 0 and "held" in out
    # The same again wrote a new change (a review): nothing changes, and it says so.
    _, history, _ = run("channel", "history", "--store", store)
    code, out, _ = run("channel", "hold", "om", "--reason", "OM offline", *me)
    said = " ".join(out.split())
    assert code == 0 and "as set already by ann for the same reason; nothing changed" in said
    assert run("channel", "history", "--store", store)[1] == history
    code, out, _ = run("channel", "hold", "om", "--reason", "OM still offline", *me)
    assert code == 0 and "nothing changed" not in out  # a new reason is a new event
    assert run("channel", "history", "--store", store)[1] != history
    code, _, err = run("channel", "hold", "nobody", "--reason", "x", *me)
    assert code == 2 and "not a partner" in err
    code, _, err = run("channel", "open", "om", "--reason", "x", "--rate", "inf", *me)
    assert code == 2 and "not 'inf'" in err
    code, out, err = run("channel", "hold", "dji", "--from", "gemeenten", "--reason", "x", *me)
    assert code == 2 and out == ""
    assert "channel gemeenten → dji: the chain carries nothing from gemeenten to dji" in err
    assert len(err.strip().splitlines()) == 1
    run("channel", "hold", "*", "--from", "om", "--reason", "om's traffic", *me)
    code, out, _ = run("channel", "open", "justid", "--reason", "wave 1", *me)
    assert code == 0  # om's traffic to justid stays held by the om → * rule: said so
    assert "note: om → justid stays held by the rule om → * [*]" in " ".join(out.split())
    code, out, err = run("isolation", "isolate", "om", "--reason", "Citrix", *me)
    assert code == 0, err
    code, out, _ = run("channel", "open", "om", "--reason", "wave 1", *me)
    assert code == 0 and "note: om is isolated: nothing flows to it on this channel" in out
    assert "until it returns (`ketenherstel isolation return om --reason … --as NAME`)" in " ".join(
        out.split()
    )


def test_channel_open_to_a_returning_partner_does_not_say_nothing_flows(store: str) -> None:
    """A returning receiver gets what open channels carry (a go-live wave); what a returning
    sender sends waits in quarantine until a release is approved, and the note says that."""
    me = ("--as", "ann", "--store", store)
    for cmd in (("isolate", "om", "--reason", "Citrix"), ("return", "om", "--reason", "back")):
        assert run("isolation", *cmd, *me)[0] == 0
    code, out, err = run("channel", "open", "om", "--from", "politie", "--reason", "golf", *me)
    assert code == 0, err
    assert "channel politie → om [*]: open" in out and "note" not in out
    code, out, err = run("channel", "open", "justid", "--from", "om", "--reason", "golf", *me)
    assert code == 0, err
    said = " ".join(out.split())
    assert "note: om is returning: what it sends waits in quarantine" in said
    assert "`ketenherstel quarantine request om --reason … --as NAME`" in said
    assert "nothing flows" not in said and "back online" not in said


@pytest.mark.parametrize("verb", ["hold", "open"])
def test_a_channel_reason_with_an_skn_or_e_mail_address_is_refused(store: str, verb: str) -> None:
    reason = "op verzoek van SKN-1643701197 jan.jansen@om.nl"
    code, out, err = run("channel", verb, "om", "--reason", reason, "--as", "ann", "--store", store)
    assert code == 2 and out == ""
    assert "a reason gives no SKN, BSN or e-mail address" in err
    assert "1643701197" not in err and "jansen" not in err  # not repeated
    code, out, _ = run("channel", "history", "--store", store)
    assert code == 0 and "jansen" not in out


@pytest.mark.parametrize("verb", ["hold", "open"])
@pytest.mark.parametrize(
    ("who", "needle"),
    [
        ((), "Missing option '--as'"),
        (("--as", " "), "--as names you, the operator"),
        (("--as", "local-cli"), "command line's own name"),
        (("--as", "an\tn"), "no control or invisible characters"),
        (("--as", "a" * 101), "is 1 to 100 characters"),
    ],
)
def test_a_channel_change_without_a_good_as_exits_2_and_changes_nothing(
    store: str, verb: str, who: tuple[str, ...], needle: str
) -> None:
    result = runner.invoke(
        app,
        ["channel", verb, "om", "--reason", "OM offline", *who, "--store", store],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 2 and result.stdout == ""
    assert needle in " ".join(result.stderr.replace("│", " ").split())
    code, out, _ = run("channel", "history", "--store", store)
    assert code == 0 and "OM offline" not in out
    code, out, _ = run("channel", "list", "--store", store)
    assert code == 0 and "no channel rules" in out


def test_channel_history_shows_who_when_and_why(store: str) -> None:
    run("channel", "hold", "om", "--reason", "OM offline", "--as", "ann", "--store", store)
    run("channel", "open", "om", "--reason", "wave 1", "--as", "bram", "--store", store)
    code, out, _ = run("channel", "history", "om", "--store", store)
    assert code == 0
    assert out.index("wave 1") < out.index("OM offline")  # newest first
    assert out.index("bram") < out.index("ann") and "local-cli" not in out  # who: --as
    code, out, _ = run("channel", "list", "om", "--store", store)
    assert code == 0 and "bram" in out
    rt = bootstrap(Settings(store_url=store))
    try:
        assert {"ann", "bram"} <= set(rt.store.audit_actors())
    finally:
        rt.close()
    code, _, err = run("channel", "history", "nobody", "--store", store)
    assert code == 2 and "not a partner" in err


def test_channel_list_shows_the_rules_in_force(store: str) -> None:
    code, out, _ = run("channel", "list", "--store", store)
    assert code == 0 and "no channel rules: every channel is open" in out
    me = ("--as", "ann", "--store", store)
    run("isolation", "isolate", "om", "--reason", "Citrix", *me)
    run("channel", "open", "justid", "--from", "politie", "--reason", "wave 1", *me)
    code, out, _ = run("channel", "list", "--store", store)
    assert code == 0
    rows = [line for line in out.splitlines() if "→" in line and "│" in line]
    assert [r.split("│")[1].strip() for r in rows] == ["om → *", "politie → justid", "* → om"]
    assert "Citrix" in out and "wave 1" in out
    code, out, _ = run("channel", "list", "om", "--store", store)
    assert code == 0 and "* → om" in out and "politie → justid" not in out
    code, _, err = run("channel", "list", "nobody", "--store", store)
    assert code == 2 and "not a partner" in err


def test_bad_store_url_is_a_clear_error() -> None:
    code, _, err = run("partner", "list", "--store", "sqlite:relative.db")
    assert code == 2 and "sqlite:///" in err


@pytest.mark.parametrize(
    "args", [["init"], ["partner", "list"], ["serve"], ["channel", "history", "om"]]
)
def test_a_store_url_of_another_scheme_is_named_and_nothing_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    """`mysql://x` made a SQLite file at ./mysql:/x (init), or pointed to init (the others)."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run(*args, "--store", "mysql://x")
    assert code == 2
    assert "mysql:// is not a supported store" in err and "postgresql://" in err
    assert "ketenherstel init" not in err
    assert list(tmp_path.iterdir()) == []


def test_serve_on_a_taken_port_says_so_before_announcing_and_opens_nothing(
    tmp_path: Path, store: str
) -> None:
    """It printed `serving … at http://127.0.0.1:PORT` and then failed on the bind."""
    import socket

    before = sorted(tmp_path.iterdir())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run("serve", "--store", store, "--port", str(port))
    assert code == 2, err
    assert f"port {port} on 127.0.0.1 is already in use" in err and "serving" not in err
    assert len(err.strip().splitlines()) == 1
    assert sorted(tmp_path.iterdir()) == before  # not even the store's registry was made
    code, _, err = run("serve", "--store", store, "--host", "nope.invalid")
    assert code == 2 and "--host nope.invalid: not an address to listen on" in err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["send", "DIR", "--url", "http://127.0.0.1:9", "--token", "x"], "DIR: is a directory"),
        (["outbox", "write", "DIR", "--db", "DIR/o.db"], "DIR: is a directory"),
        (["plan", "validate", "DIR"], "DIR: is a directory; give a plan file"),
        (
            ["plan", "forecast", "om-2025", "--backlog", "DIR", "--start", "2025-08-18T00:00Z"],
            "--backlog DIR: is a directory",
        ),
        (["chain", "check", "DIR"], "DIR: is a directory"),
        (["serve", "--tls-cert", "DIR", "--tls-key", "DIR"], "--tls-cert DIR: is a directory"),
    ],
)
def test_a_directory_given_for_an_input_file_is_called_a_directory(
    tmp_path: Path, args: list[str], says: str
) -> None:
    """It was `no such file: DIR` (or `no such plan file`), which sends one looking for a typo."""
    folder = str(tmp_path / "in")
    (tmp_path / "in").mkdir()
    code, _, err = run(*[a.replace("DIR", folder) for a in args])
    assert code == 2 and says.replace("DIR", folder) in err, err
    assert "no such" not in err
    assert list((tmp_path / "in").iterdir()) == []


def test_chain_show_renders_tables_and_a_mermaid_diagram() -> None:
    code, out, _ = run("chain", "show")
    assert code == 0
    assert "Procedure" in out or "procedure" in out
    wide = runner.invoke(app, ["chain", "show"], env={"COLUMNS": "260"})
    gereed = next(line for line in wide.stdout.splitlines() if "gereedgemeld.v1" in line)
    assert "parketnummer, sanctionKind" in gereed  # the business key of each type
    aanhouding = next(line for line in wide.stdout.splitlines() if "Aanhouding en" in line)
    assert "│ aanhouding " in aanhouding  # the key that --scope process:KEY takes
    code, out, _ = run("chain", "show", "--mermaid")
    assert out.startswith("flowchart")


def test_chain_check_reports_every_error_with_its_location(tmp_path: Path) -> None:
    import shutil

    from ketenherstel.chain.loader import BUILTIN_CHAIN_PATH

    shutil.copytree(BUILTIN_CHAIN_PATH.parent, tmp_path / "c")
    path = tmp_path / "c" / BUILTIN_CHAIN_PATH.name
    text = path.read_text().replace("phase: opsporing", "phase: onderzoek", 1)
    text = text.replace("receivers: [om]", "receivers: [nobody]", 1)
    path.write_text(text)
    code, out, err = run("chain", "check", str(path))
    assert code == 1
    assert "onderzoek" in out and "nobody" in out
    assert "chain.yaml:" in out
    assert "2 problem(s)" in err or "problem(s)" in err
    assert run("chain", "check", str(BUILTIN_CHAIN_PATH))[0] == 0
    code, _, err = run("chain", "check", str(tmp_path / "missing.yaml"))
    assert code == 2 and "no such file" in err


def test_chain_check_names_a_latin1_chain_file_not_utf8_at_its_line(tmp_path: Path) -> None:
    """It said 'chain.yaml:1:1: cannot read the chain file …: 'utf-8' codec can't decode byte
    0xe9 in position 2325', whatever the line."""
    import shutil

    from ketenherstel.chain.loader import BUILTIN_CHAIN_PATH

    shutil.copytree(BUILTIN_CHAIN_PATH.parent, tmp_path / "c")
    path = tmp_path / "c" / BUILTIN_CHAIN_PATH.name
    text = path.read_text(encoding="utf-8")
    at = next(i for i, char in enumerate(text) if ord(char) > 127)
    line = text.count("\n", 0, at) + 1
    column = at - text.rfind("\n", 0, at)
    path.write_bytes(text.encode("latin-1"))
    code, out, err = run("chain", "check", str(path))
    assert code == 1 and "1 problem(s)" in err
    assert " ".join(out.split()).startswith(
        f"chain.yaml:{line}:{column}: not UTF-8 text: byte {text[at].encode('latin-1')[0]:#04x}"
    )


def test_openapi_writes_the_document(tmp_path: Path) -> None:
    code, _, _ = run("openapi", "--out", str(tmp_path / "o.json"))
    assert code == 0
    assert orjson.loads((tmp_path / "o.json").read_bytes())["openapi"].startswith("3.")


@pytest.fixture
def live(store: str) -> Iterator[tuple[str, dict[str, str]]]:
    run("init", "--store", store)
    tokens = {}
    for key in ("politie", "om"):
        tokens[key] = run("token", "create", "--partner", key, "--as", "anna", "--store", store)[
            1
        ].strip()
    rt = bootstrap(Settings(store_url=store))
    with ServerThread(rt) as server:
        yield server.url, tokens
    rt.close()


def test_send_pull_ack_trail_over_http(live: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, tokens = live
    events = [pv_event(case=f"10-00000{i}-25") for i in range(3)]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events))
    code, out, _ = run("send", str(path), "--url", url, "--token", tokens["politie"])
    assert code == 0 and "3 accepted" in out
    code, out, _ = run("send", str(path), "--url", url, "--token", tokens["politie"])
    assert "3 duplicates" in out
    code, out, _ = run("pull", "--url", url, "--token", tokens["om"])
    pulled = [orjson.loads(line) for line in out.splitlines()]
    assert [d["event"]["id"] for d in pulled] == [e["id"] for e in events]
    ids = [str(d["deliveryId"]) for d in pulled]
    code, out, _ = run("ack", *ids, "--url", url, "--token", tokens["om"])
    assert code == 0 and out.count("acked") == 3
    code, _, err = run("pull", "--url", "127.0.0.1:8000", "--token", tokens["om"])
    assert code == 2 and "--url '127.0.0.1:8000' is not an http:// or https:// address" in err
    code, out, err = run("ack", ids[0], "99999", "--url", url, "--token", tokens["om"])
    assert code == 1 and "already-acked" in out and "99999: not-found" in out
    assert "1 of 2 not acknowledged" in err
    code, out, _ = run(
        "trail", events[0]["source"], events[0]["id"], "--url", url, "--token", tokens["om"]
    )
    assert code == 0 and "acked" in out


@pytest.mark.parametrize("ident", ["../../partners", "..", ".", "a/./b", "a b/%2F?x#y"])
def test_trail_of_an_id_with_dots_and_slashes_is_that_messages_trail(
    live: tuple[str, dict[str, str]], tmp_path: Path, ident: str
) -> None:
    """An id is any string: `../../partners` asked for /v1/partners (the HTTP client collapsed
    the dot segments) and the answer, read as a trail, crashed the command."""
    url, tokens = live
    event = {**pv_event(case="10-000091-25"), "id": ident}
    path = tmp_path / "events.jsonl"
    path.write_bytes(orjson.dumps(event))
    code, out, err = run("send", str(path), "--url", url, "--token", tokens["politie"])
    assert code == 0 and ("1 accepted" in out or "1 duplicates" in out), err
    result = runner.invoke(
        app,
        ["trail", event["source"], ident, "--url", url, "--token", tokens["om"]],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.stderr
    assert "accepted" in result.stdout and ident in result.stdout


def test_trail_of_an_id_answered_as_a_repeated_fact_shows_the_stored_ones(
    live: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, tokens = live
    event = pv_event(case="10-000061-25")
    again = {**event, "id": "the-same-fact-again"}
    path = tmp_path / "two.jsonl"
    path.write_bytes(orjson.dumps(event) + b"\n" + orjson.dumps(again))
    code, out, err = run("send", str(path), "--url", url, "--token", tokens["politie"])
    assert code == 0 and "1 accepted, 1 duplicates" in out, err
    result = runner.invoke(
        app,
        ["trail", event["source"], again["id"], "--url", url, "--token", tokens["om"]],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert "the-same-fact-again was answered as a duplicate by business key" in said
    assert f"this is the trail of {event['source']} {event['id']}" in said


def test_pull_that_cannot_write_its_output_acknowledges_nothing(
    live: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """`pull --ack > /dev/full` ended in a traceback (nothing was acked, but it did not say)."""
    import subprocess
    import sys

    url, tokens = live
    path = tmp_path / "one.jsonl"
    event = pv_event(case="10-000071-25")
    path.write_bytes(orjson.dumps(event))
    assert run("send", str(path), "--url", url, "--token", tokens["politie"])[0] == 0
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [sys.executable, "-m", "ketenherstel.cli", "pull", "--ack", "--url", url],
            env={**os.environ, "KETENHERSTEL_TOKEN": tokens["om"]},
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "cannot write the 1 deliveries" in done.stderr and "none was acknowledged" in done.stderr
    code, out, _ = run("trail", event["source"], event["id"], "--url", url, "--token", tokens["om"])
    assert code == 0 and "leased" in out and "acked" not in out.replace("leased", "")


def test_trail_shows_each_moment_and_delivery_whole_in_80_columns(
    live: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """The trail's `at` column was cut to `2026-11-30T…` in 80 columns (or a pipe)."""
    from ketenherstel.client import ExchangeClient

    url, tokens = live
    event = pv_event(case="10-000002-25")
    path = tmp_path / "one.json"
    path.write_bytes(orjson.dumps(event))
    assert run("send", str(path), "--url", url, "--token", tokens["politie"])[0] == 0
    code, out, _ = run("pull", "--url", url, "--token", tokens["om"])
    assert code == 0 and out
    with ExchangeClient(url, tokens["om"]) as c:
        entries = c.trail(event["source"], event["id"])["trail"]
    result = runner.invoke(
        app,
        ["trail", event["source"], event["id"], "--url", url, "--token", tokens["om"]],
        env={"COLUMNS": "80"},
    )
    assert result.exit_code == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert len(entries) >= 2 and "…" not in result.stdout
    for e in entries:
        assert e["at"] in result.stdout, (e["at"], result.stdout)
        assert str(e["deliveryId"] or "") in result.stdout


def test_nack_says_when_it_is_retried_and_when_it_is_dead_lettered(
    store: str, tmp_path: Path
) -> None:
    """A nack that dead-lettered the delivery printed `95: dead (retry at None)`."""
    import contextlib
    import sqlite3

    from ketenherstel.exchange.service import ExchangeSettings

    run("init", "--store", store)
    tokens = {
        key: run("token", "create", "--partner", key, "--as", "anna", "--store", store)[1].strip()
        for key in ("politie", "om")
    }
    rt = bootstrap(Settings(store_url=store, exchange=ExchangeSettings(max_attempts=2)))
    try:
        with ServerThread(rt) as server:
            path = tmp_path / "one.json"
            path.write_bytes(orjson.dumps(pv_event(case="10-000003-25")))
            at = ("--url", server.url)
            assert run("send", str(path), *at, "--token", tokens["politie"])[0] == 0
            said = []
            for _ in range(2):
                with contextlib.closing(sqlite3.connect(store.removeprefix("sqlite:///"))) as db:
                    db.execute("UPDATE deliveries SET not_before = 0")  # due now
                    db.commit()
                code, out, _ = run("pull", *at, "--token", tokens["om"])
                delivery = str(orjson.loads(out)["deliveryId"])
                code, out, err = run(
                    "nack", delivery, "--reason", "x", *at, "--token", tokens["om"]
                )
                assert code == 0, err
                said.append(" ".join(out.split()))
    finally:
        rt.close()
    assert said[0].startswith(f"{delivery}: to be retried at 20"), said
    assert said[1] == f"{delivery}: dead-lettered after 2 attempts; it is not retried", said


@pytest.mark.parametrize(
    ("reason", "says"),
    [
        ("kapot \udcff", "holds no control or invisible characters (U+DCFF)"),  # was a traceback
        ("\x1b[2J\u202ewis", "holds no control or invisible characters (U+001B)"),
        ("zaak SKN-1572429180", "gives no SKN, BSN or e-mail address"),
    ],
)
def test_nack_refuses_a_reason_the_exchange_would_refuse_before_sending(
    reason: str, says: str
) -> None:
    """A byte that is not UTF-8 in argv (a lone surrogate) could not be encoded to send; the
    rest the exchange answers with 400. Refused here first, with the exchange's words."""
    code, _, err = run(
        "nack", "7", "--reason", reason, "--url", "http://127.0.0.1:9", "--token", "t"
    )
    assert code == 2 and f"--reason: a reason {says}" in err, (code, err)
    assert "1572429180" not in err


def test_send_names_each_sequence_gap_once(
    live: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """Gaps of one were printed as ranges: 'missing 2-2, 4-6'."""
    url, tokens = live
    events = [pv_event(case=f"10-00001{n}-25", sequence=n) for n in (1, 3, 7)]
    path = tmp_path / "gaps.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events))
    code, out, err = run("send", str(path), "--url", url, "--token", tokens["politie"])
    assert code == 0 and "3 accepted" in out, err
    assert "missing 2, 4-6" in " ".join(err.split())


def test_send_rejects_bad_files_and_bad_events(
    live: tuple[str, dict[str, str]], tmp_path: Path, store: str
) -> None:
    url, tokens = live
    code, _, err = run("send", str(tmp_path / "none.json"), "--url", url, "--token", "x")
    assert code == 2 and "no such file" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = run("send", str(bad), "--url", url, "--token", tokens["politie"])
    assert code == 2 and "not valid JSON" in err
    wrong = tmp_path / "wrong.jsonl"
    good = pv_event()
    wrong.write_bytes(orjson.dumps(good) + b"\n" + orjson.dumps(pv_event(specversion="0.3")))
    code, _, err = run("send", str(wrong), "--url", url, "--token", tokens["politie"])
    assert code == 2 and "specversion" in err and "nothing was sent" in err
    code, _, err = run("send", str(wrong), "--no-check", "--url", url, "--token", tokens["politie"])
    assert code == 2 and "specversion" in err  # the server says the same
    from ketenherstel.store import open_store

    check = open_store(store)
    assert check.message(good["source"], good["id"]) is None  # the good event was not sent
    check.close()
    ok = tmp_path / "ok.json"
    ok.write_bytes(orjson.dumps(good))
    code, _, err = run("send", str(ok), "--url", url, "--token", "kh_" + "y" * 43)
    assert code == 2 and "401" in err
    code, _, err = run("pull", "--url", "http://127.0.0.1:9", "--token", tokens["om"])
    assert code == 2 and "cannot reach" in err
    latin = tmp_path / "latin.jsonl"  # orjson said 'surrogates not allowed: line 1 column 1'
    latin.write_bytes(orjson.dumps(good) + b'\n{"caf\xe9": 1}\n')
    code, _, err = run("send", str(latin), "--url", url, "--token", tokens["politie"])
    said = " ".join(err.split())
    assert code == 2 and "not UTF-8 text: byte 0xe9 at line 2" in said, said
    assert "nothing was sent" in said and "surrogates" not in said


def test_send_refuses_a_control_character_in_an_attribute_before_sending(
    live: tuple[str, dict[str, str]], tmp_path: Path, store: str
) -> None:
    """The envelope check send makes first is the exchange's (check_events): a NUL in an id
    sends nothing, named by its line; with --no-check the exchange says the same."""
    from ketenherstel.store import open_store

    url, tokens = live
    good, bad = pv_event(case="10-000001-25"), pv_event(case="10-000002-25", id="ctl\x00red")
    path = tmp_path / "ctl.jsonl"
    path.write_bytes(orjson.dumps(good) + b"\n" + orjson.dumps(bad))
    for check in ([], ["--no-check"]):
        code, _, err = run("send", str(path), *check, "--url", url, "--token", tokens["politie"])
        said = " ".join(err.split())
        assert code == 2 and "'id' holds U+0000" in said, (check, said)
    assert "nothing was sent" in " ".join(
        run("send", str(path), "--url", url, "--token", tokens["politie"])[2].split()
    )
    check_store = open_store(store)
    try:
        assert check_store.message(good["source"], good["id"]) is None
    finally:
        check_store.close()


def test_send_refuses_a_file_that_gives_a_key_twice_naming_line_and_key_and_sends_nothing(
    live: tuple[str, dict[str, str]], tmp_path: Path, store: str
) -> None:
    """orjson kept the last of two equal keys: the event went out with the case the file gave
    second, and nothing said the file was ambiguous. With --no-check too: the client sends
    what orjson read, so the file is the last place the duplicate can be seen."""
    from ketenherstel.store import open_store

    url, tokens = live
    good, other = pv_event(), pv_event(case="10-000002-25")
    twice = given_twice(orjson.dumps(other), "parketnummer", "10-999999-25")
    lines = tmp_path / "twice.jsonl"
    lines.write_bytes(orjson.dumps(good) + b"\n" + twice + b"\n")
    array = tmp_path / "twice.json"
    array.write_bytes(b"[" + orjson.dumps(good) + b"," + twice + b"]")
    for path, where in [(lines, "line 2"), (array, "event 2")]:
        for extra in ([], ["--no-check"]):
            code, _, err = run(
                "send", str(path), *extra, "--url", url, "--token", tokens["politie"]
            )
            said = " ".join(err.split())
            assert code == 2, err
            assert (
                f"{path} gives a key twice in one object (give each key once); nothing was " in said
            )
            assert f"{where}: the key 'parketnummer' appears twice in the object at data" in said
    check = open_store(store)
    assert check.message(good["source"], good["id"]) is None
    assert check.message(other["source"], other["id"]) is None
    check.close()


def test_send_checks_the_sender_of_every_event_first_and_names_its_line(
    live: tuple[str, dict[str, str]], tmp_path: Path, store: str
) -> None:
    """A file whose last event was sent as another partner was refused by the exchange in its
    last batch, after the batches before it were stored, while the help promised that a bad
    file sends nothing; and the error counted within the batch ("event 171")."""
    from ketenherstel.store import open_store

    url, tokens = live
    events = [pv_event(case=f"10-{n:06d}-25") for n in range(5)]
    events[4] = {**events[4], "source": "urn:nld:oin:00000001003214347000:systeem:x"}  # om's
    path = tmp_path / "mixed.ndjson"  # JSON Lines by another name
    path.write_bytes(b"\n\n".join(orjson.dumps(e) for e in events))  # blank lines between
    code, _, err = run(
        "send", str(path), "--batch-size", "2", "--url", url, "--token", tokens["politie"]
    )
    assert code == 2 and "nothing was sent" in err
    assert "line 9 source:" in " ".join(err.split()) and "a file is sent by one partner" in err
    events[4] = {**events[4], "source": POLITIE_SOURCE.replace(":bvh", ":zzz")}
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events))
    code, _, err = run("send", str(path), "--url", url, "--token", tokens["politie"])
    said = " ".join(err.split())
    assert code == 2 and "line 5 source: politie has no system 'zzz'" in said, said
    check = open_store(store)
    try:
        assert all(check.message(e["source"], e["id"]) is None for e in events)
    finally:
        check.close()
    # What only the exchange can refuse (here: sending as the police with the OM's token)
    # says what was stored before the refused batch and where it lies in the file.
    good = tmp_path / "good.JSONL"
    good.write_bytes(b"\n".join(orjson.dumps(e) for e in events[:4]))
    code, _, err = run(
        "send", str(good), "--batch-size", "2", "--url", url, "--token", tokens["om"]
    )
    said = " ".join(err.split())
    assert code == 2 and "line 1 source: you are om" in said
    assert "nothing of" in said and "the refused batch was line 1 to line 2" in said


def test_send_says_what_was_stored_before_a_refused_batch(
    live: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, tokens = live
    first, second = pv_event(case="10-000081-25"), pv_event(case="10-000082-25")
    path = tmp_path / "events.json"
    path.write_bytes(orjson.dumps([first]))
    assert run("send", str(path), "--url", url, "--token", tokens["politie"])[0] == 0
    # The same id again with another body is a conflict the exchange alone can see.
    changed = {**first, "data": {**first["data"], "policeCaseNumber": "PL1300-2025999999"}}
    path.write_bytes(orjson.dumps([second, changed]))
    code, _, err = run(
        "send", str(path), "--batch-size", "1", "--url", url, "--token", tokens["politie"]
    )
    said = " ".join(err.split())
    assert code == 2 and "409" in said
    assert "the 1 events before this batch (event 1 to event 1) were stored" in said
    assert "this batch (event 2 to event 2)" in said


def test_partner_commands_need_a_token() -> None:
    env = dict(os.environ)
    env.pop("KETENHERSTEL_TOKEN", None)
    result = runner.invoke(app, ["pull", "--url", "http://127.0.0.1:9"], env=env)
    assert result.exit_code == 2


def test_malformed_settings_in_the_environment_are_a_clear_error(store: str) -> None:
    result = runner.invoke(
        app, ["partner", "list", "--store", store], env={"KETENHERSTEL_MAX_ATTEMPTS": "many"}
    )
    assert result.exit_code == 2
    assert "KETENHERSTEL_MAX_ATTEMPTS must be a number" in result.stderr


def test_retry_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KETENHERSTEL_MAX_ATTEMPTS", "4")
    monkeypatch.setenv("KETENHERSTEL_MAX_AGE_DAYS", "100")
    monkeypatch.setenv("KETENHERSTEL_VISIBILITY_TIMEOUT", "12")
    s = Settings.from_env()
    assert (s.exchange.max_attempts, s.exchange.max_age, s.exchange.visibility_timeout) == (
        4,
        100 * 86_400,
        12,
    )


def test_simulate_writes_events_that_send_accepts(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    code, _, _ = run("simulate", "--out", str(path), "--cases", "5", "--sender", "politie")
    assert code == 0
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert events and all(":00000001003214345000:" in e["source"] for e in events)
    again = tmp_path / "f.jsonl"
    run("simulate", "--out", str(again), "--cases", "5", "--sender", "politie")
    assert again.read_bytes() == path.read_bytes()  # deterministic per seed
    code, _, err = run("simulate", "--out", str(path), "--sender", "nobody")
    assert code == 2 and "not a partner" in err


def test_simulate_says_why_a_file_it_wrote_is_empty(tmp_path: Path) -> None:
    """Three cases have no KMar event: the empty file `send` then refuses was written without
    a word."""
    out_file = tmp_path / "kmar.jsonl"
    code, out, err = run("simulate", "--out", str(out_file), "--sender", "kmar", "--cases", "3")
    assert code == 0 and "wrote 0 events" in out
    assert "note: kmar sent nothing in 3 simulated cases" in " ".join(err.split())
    assert out_file.read_bytes() == b""
    code, out, err = run("simulate", "--out", str(out_file), "--sender", "politie", "--cases", "3")
    assert code == 0 and "note:" not in err


def test_simulate_and_openapi_refuse_an_output_they_cannot_write_and_make_no_folder(
    tmp_path: Path,
) -> None:
    """A directory was an IsADirectoryError traceback; a missing folder was made (as root,
    /nonexist)."""
    before = sorted(tmp_path.rglob("*"))
    for args, needle in [
        (["simulate", "--out", str(tmp_path)], "is a directory"),
        (["simulate", "--out", str(tmp_path / "no" / "x.jsonl")], "there is no directory"),
        (["openapi", "--out", str(tmp_path)], "is a directory"),
        (["simulate", "--out", ""], "--out: give a file's path, not an empty one"),  # was '.'
    ]:
        code, _, err = run(*args)
        assert code == 2 and needle in err, (args, err)
        assert sorted(tmp_path.rglob("*")) == before


FULL_DISK = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(
    not FULL_DISK.is_char_device(), reason="/dev/full (a disk that is always full) is not here"
)


@needs_dev_full
@pytest.mark.parametrize("command", [["simulate", "--cases", "1"], ["openapi"]])
def test_an_output_on_a_full_disk_is_an_error_naming_it_not_a_traceback(
    command: list[str],
) -> None:
    """Writing to /dev/full was an OSError (ENOSPC) traceback. Only opened as a plain 'w'."""
    code, _, err = run(*command, "--out", str(FULL_DISK))
    assert code == 1 and f"--out {FULL_DISK}: cannot write it" in err, err
    assert "Traceback" not in err and FULL_DISK.is_char_device()


def test_openapi_refuses_an_output_it_cannot_make_before_any_work(tmp_path: Path) -> None:
    """/proc/x was a FileNotFoundError traceback, FILE/x.json a FileExistsError one."""
    (tmp_path / "env.sh").write_text("x=1\n")
    before = sorted(tmp_path.rglob("*"))
    for target, needle in [
        (Path("/proc/x"), "--out /proc/x: not writable"),
        (tmp_path / "env.sh" / "x.json", "is not a directory"),
        (tmp_path / "env.sh" / "deeper" / "x.json", "is not a directory"),
    ]:
        code, _, err = run("openapi", "--out", str(target))
        assert code == 2 and needle in err and "Traceback" not in err, (target, err)
        assert sorted(tmp_path.rglob("*")) == before


def test_init_refuses_a_store_that_is_no_regular_file_or_cannot_be_made() -> None:
    """/dev/full and /proc/self/x.db were sqlite3.OperationalError tracebacks. A socket stands
    in for the device: nothing is ever opened in /dev."""
    import socket
    import tempfile

    with tempfile.TemporaryDirectory(dir="/tmp") as folder, socket.socket(socket.AF_UNIX) as s:
        sock = Path(folder) / "s"
        s.bind(str(sock))
        code, _, err = run("init", "--store", f"sqlite:///{sock}")
        assert code == 2 and f"store {sock} is not a regular file" in err, err
        assert sorted(p.name for p in Path(folder).iterdir()) == ["s"]
    code, _, err = run("init", "--store", "sqlite:////proc/self/x.db")
    assert code == 2 and "store /proc/self/x.db: cannot write there" in err, err


def test_a_store_locked_past_the_busy_timeout_is_a_one_line_error_and_nothing_changes(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another process's open write transaction (over 10 s) was a 'database is locked'
    traceback out of the command line's entry point."""
    import sqlite3

    from ketenherstel.cli import main

    run("init", "--store", store)
    capsys.readouterr()
    holder = sqlite3.connect(store.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        argv = ["ketenherstel", "channel", "hold", "om", "--reason", "r", "--as", "anna"]
        monkeypatch.setattr("sys.argv", [*argv, "--store", store])
        with pytest.raises(SystemExit) as exit_:
            main()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert exit_.value.code == 1, err
    assert "the store is busy (another process holds its write lock): try again" in err
    assert "Traceback" not in err
    code, out, _ = run("channel", "list", "--store", store)
    assert code == 0 and "held" not in out.lower(), out


def test_purge_counts_in_a_dry_run_and_refuses_a_bad_age(store: str) -> None:
    run("init", "--store", store)
    code, out, _ = run(
        "purge", "--older-than-days", "30", "--dry-run", "--as", "anna", "--store", store
    )
    assert code == 0 and "would purge 0 messages" in out
    code, _, err = run("purge", "--older-than-days", "1e308", "--as", "anna", "--store", store)
    assert code == 2 and "at most 36,500" in err
    code, _, err = run("purge", "--older-than-days", "0", "--as", "anna", "--store", store)
    assert code == 2 and "more than 0" in err


def test_an_error_shows_rich_markup_in_its_message_as_text(tmp_path: Path, store: str) -> None:
    """A user's path or value that looks like markup ('[/x]') is printed, not applied (it
    used to crash the error line itself)."""
    odd = tmp_path / "a[/tcp]b[bold].json"
    code, _, err = run("send", str(odd), "--url", "http://127.0.0.1:9", "--token", "x")
    assert code == 2 and "a[/tcp]b[bold].json" in err and "no such file" in err
    from ketenherstel.cli_isolation import partner_state_app

    result = runner.invoke(
        partner_state_app, ["isolate", "om[/x]", "--reason", "r", "--as", "ann", "--store", store]
    )
    assert result.exit_code == 2 and "om[/x]" in result.stderr
