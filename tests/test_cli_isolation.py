"""The isolation commands (partner states, emergency routes, quarantine) through Typer's runner."""

from __future__ import annotations

import copy
import sqlite3
import uuid
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ketenherstel import cli_isolation
from ketenherstel.bootstrap import bootstrap
from ketenherstel.cli_isolation import partner_state_app, quarantine_app, route_app
from ketenherstel.exchange.auth import LOCAL_OPERATOR, Principal
from ketenherstel.settings import Settings
from ketenherstel.sim import sample_events
from tests.factories import PV_TYPE
from tests.stores import made

AFDOENING = "nl.strafrechtketen.registratie.om-afdoening-geregistreerd.v1"
runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as on a wide terminal, so that the tests read whole cells."""
    monkeypatch.setattr(cli_isolation.out, "width", 200)


@pytest.fixture
def store(tmp_path: Path) -> str:
    return made(f"sqlite:///{tmp_path}/cli.db")


def run(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def history(store: str) -> list[tuple[str, str]]:
    rt = bootstrap(Settings(store_url=store))
    try:
        return [(h.partner, h.state) for h in rt.exchange.partner_history()]
    finally:
        rt.close()


def quarantine_one_afdoening(store: str, ident: str | None = None) -> None:
    """om is isolated, justid's channel from om is open, and om sent one afdoening."""
    rt = bootstrap(Settings(store_url=store))
    try:
        ex = rt.exchange
        for p in rt.chain.partners:
            ex.register_partner(principal=LOCAL_OPERATOR, key=p.key)
        ex.set_partner_state(principal=LOCAL_OPERATOR, partner="om", state="isolated", reason="x")
        ex.set_channel(
            principal=LOCAL_OPERATOR, receiver="justid", sender="om", state="open", reason="w1"
        )
        event = copy.deepcopy(sample_events(rt.chain)[AFDOENING].event)
        event["id"] = ident or str(uuid.uuid4())
        event.pop("sequence", None)
        event.pop("sequencetype", None)
        result = ex.submit(principal=Principal("om", "partner", "om", "token"), events=[event])
        assert result.outcomes[0].quarantined
    finally:
        rt.close()


@pytest.mark.parametrize(
    ("app", "cmd"),
    [
        (partner_state_app, ["isolate"]),
        (partner_state_app, ["return"]),
        (partner_state_app, ["online"]),
        (partner_state_app, ["states"]),
        (partner_state_app, ["history"]),
        (route_app, ["open"]),
        (route_app, ["close"]),
        (route_app, ["list"]),
        (quarantine_app, ["list"]),
        (quarantine_app, ["check"]),
        (quarantine_app, ["request"]),
        (quarantine_app, ["approve"]),
        (quarantine_app, ["releases"]),
    ],
)
def test_every_command_has_help(app: typer.Typer, cmd: list[str]) -> None:
    code, out, _ = run(app, *cmd, "--help")
    assert code == 0, cmd
    assert "Usage" in out


def test_isolate_return_online_with_states_and_history(store: str) -> None:
    code, out, _ = run(
        partner_state_app, "isolate", "om", "--reason", "Citrix", "--as", "ann", "--store", store
    )
    assert (code, out.strip()) == (0, "om: isolated")
    back = ["return", "om", "--reason", "back", "--as", "bram", "--store", store]
    assert run(partner_state_app, *back)[0] == 0
    # Online takes two operators (decision 0018): one asks, another approves.
    code, out, _ = run(
        partner_state_app, "online", "om", "--reason", "ok", "--as", "op-a", "--store", store
    )
    assert code == 0, out
    assert "release 1 asked by op-a for 0 messages; om comes online when another" in out
    assert history(store) == [("om", "returning"), ("om", "isolated")]
    code, out, err = run(quarantine_app, "approve", "1", "--as", "op-a", "--store", store)
    assert code == 2 and "a second operator approves" in err
    assert history(store) == [("om", "returning"), ("om", "isolated")]
    code, out, _ = run(quarantine_app, "approve", "1", "--as", "op-b", "--store", store)
    assert code == 0, out
    code, out, _ = run(partner_state_app, "states", "--store", store)
    assert code == 0
    assert "om" in out and "online" in out and "politie" in out
    code, out, _ = run(partner_state_app, "history", "om", "--store", store)
    assert code == 0
    assert "Citrix" in out and "returning" in out
    assert history(store) == [("om", "online"), ("om", "returning"), ("om", "isolated")]


def test_a_partner_state_change_names_the_operator_given_with_as(store: str) -> None:
    """Who isolated a partner or let it return is the person --as names, as the API names
    the token's holder: in the history, on the record and in the audit log."""
    args = ["om", "--reason", "Citrix", "--as", "ann", "--store", store]
    assert run(partner_state_app, "isolate", *args)[0] == 0
    args = ["om", "--reason", "back", "--as", "bram", "--store", store]
    assert run(partner_state_app, "return", *args)[0] == 0
    code, out, _ = run(partner_state_app, "history", "om", "--store", store)
    assert code == 0 and "ann" in out and "bram" in out and "local-cli" not in out
    rt = bootstrap(Settings(store_url=store))
    try:
        changes = rt.exchange.partner_history(partner="om")
        assert [(h.state, h.changed_by) for h in changes] == [
            ("returning", "bram"),
            ("isolated", "ann"),
        ]
        assert {"ann", "bram"} <= set(rt.store.audit_actors())
        assert "local-cli" not in rt.store.audit_actors()
    finally:
        rt.close()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["isolate", "nobody", "--reason", "x", "--as", "ann"], "not a partner"),
        (["isolate", "om", "--reason", " ", "--as", "ann"], "say why"),
        (
            ["isolate", "om", "--reason", "x" * 100_000, "--as", "ann"],
            "at most 500 characters, not 100,000",
        ),
        (["isolate", "*", "--reason", "x", "--as", "ann"], "one partner at a time"),
        (
            ["isolate", "om", "--reason", "SKN-1643701197 jan.jansen@om.nl", "--as", "ann"],
            "no SKN, BSN or e-mail",
        ),
        (["return", "om", "--reason", "x", "--as", "ann"], "only an isolated partner returns"),
        (["isolate", "om", "--reason", "x"], "Missing option '--as'"),
        (["isolate", "om", "--reason", "x", "--as", " "], "--as names you"),
        (["isolate", "om", "--reason", "x", "--as", "al\tice"], "no control or invisible"),
        (["isolate", "om", "--reason", "x", "--as", "a" * 101], "is 1 to 100 characters"),
        (["isolate", "om", "--reason", "x", "--as", "local-cli"], "command line's own name"),
        (["return", "om", "--reason", "x"], "Missing option '--as'"),
        (["return", "om", "--reason", "x", "--as", "Local-CLI"], "command line's own name"),
        (["online", "om", "--reason", "x", "--as", "op-a"], "already online"),
        (["online", "om", "--reason", "x", "--as", " "], "--as names you"),
        (["online", "om", "--reason", "x", "--as", "al\n/ ice"], "--as: a person's name holds"),
        (["history", "nobody"], "not a partner"),
    ],
)
def test_bad_partner_state_changes_exit_2_and_change_nothing(
    store: str, args: list[str], needle: str
) -> None:
    code, _, err = run(partner_state_app, *args, "--store", store)
    assert code == 2
    assert needle in err
    assert history(store) == []


def test_online_is_refused_for_an_isolated_partner_and_changes_nothing(store: str) -> None:
    isolate = ["isolate", "om", "--reason", "Citrix", "--as", "ann", "--store", store]
    assert run(partner_state_app, *isolate)[0] == 0
    code, _, err = run(
        partner_state_app, "online", "om", "--reason", "ok", "--as", "op-a", "--store", store
    )
    assert code == 2
    assert "om is isolated: let it return first" in err
    assert history(store) == [("om", "isolated")]
    assert "op-a" not in run(quarantine_app, "releases", "--store", store)[1]  # none asked


ROUTE = [
    "--type",
    PV_TYPE,
    "--from",
    "politie",
    "--around",
    "om",
    "--to",
    "justid",
    "--superseded-by",
    AFDOENING,
    "--reason",
    "spoedroute",
    "--as",
    "ann",
]


def test_open_list_and_close_a_route(store: str) -> None:
    code, out, _ = run(route_app, "open", *ROUTE, "--store", store)
    assert code == 0, out
    assert "opened route 1" in out
    code, out, _ = run(route_app, "list", "--store", store)
    assert code == 0 and "justid" in out and "ann" in out and "spoedroute" in out
    assert "local-cli" not in out
    close = ["--reason", "OM is terug", "--as", "bram", "--store", store]
    code, out, _ = run(route_app, "close", "1", *close)
    assert code == 0 and "closed route 1" in out
    code, out, _ = run(route_app, "list", "--store", store)
    assert code == 0 and "why closed" in out and "OM is terug" in out and "bram" in out
    rt = bootstrap(Settings(store_url=store))
    try:
        [route] = rt.exchange.routes()
        assert (route.opened_by, route.closed_by) == ("ann", "bram")
    finally:
        rt.close()
    code, _, err = run(route_app, "close", "1", "--reason", "x", "--as", "bram", "--store", store)
    assert code == 2 and err
    code, _, err = run(
        route_app, "close", str(2**70), "--reason", "x", "--as", "bram", "--store", store
    )
    assert code == 2 and "out of range" in err  # not a traceback


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--as", "bram"), "--reason"),
        (("--reason", "", "--as", "bram"), "say why"),
        (("--reason", " ", "--as", "bram"), "say why"),
        (("--reason", "y" * 501, "--as", "bram"), "at most 500 characters"),
        (("--reason", "terug, zegt jan.jansen@om.nl", "--as", "bram"), "no SKN, BSN or e-mail"),
        (("--reason", "terug"), "Missing option '--as'"),
        (("--reason", "terug", "--as", " "), "--as names you"),
        (("--reason", "terug", "--as", "local-cli"), "command line's own name"),
        (("--reason", "terug", "--as", "br\x1b[31mam"), "no control or invisible"),
    ],
)
def test_a_route_closed_without_a_reason_or_a_good_as_exits_2_and_stays_open(
    store: str, args: tuple[str, ...], needle: str
) -> None:
    assert run(route_app, "open", *ROUTE, "--store", store)[0] == 0
    code, _, err = run(route_app, "close", "1", *args, "--store", store)
    assert code == 2
    assert needle in err
    rt = bootstrap(Settings(store_url=store))
    try:
        [route] = rt.exchange.routes()
        assert (route.closed_at, route.closed_reason) == (None, None)
    finally:
        rt.close()


def test_a_file_that_is_no_store_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    """Only `init` makes a store: an empty file, a CSV or another SQLite database given as
    --store is named, read only, never migrated into a store."""
    empty = tmp_path / "empty.db"
    empty.touch()
    text = tmp_path / "g.csv"
    text.write_text("a,b\n1,2\n" * 100)
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()
    for path, needle in [
        (empty, "an empty file"),
        (text, "not a SQLite database"),
        (other, "a SQLite database of something else"),
    ]:
        before = path.read_bytes()
        code, _, err = run(partner_state_app, "states", "--store", str(path))
        assert code == 2 and "is not a store" in err and needle in err, err
        assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"--from": "nobody"}, "not a partner"),
        ({"--type": "nl.bogus.v1"}, "type 'nl.bogus.v1' is not a message type"),
        # Named in words, not by the API's field (supersededBy).
        ({"--superseded-by": "bogus"}, "the superseding type 'bogus' is not a message type"),
        ({"--to": "politie"}, "politie"),
        ({"--reason": " "}, "say why"),
        ({"--reason": "y" * 501}, "at most 500 characters"),
        ({"--reason": "op verzoek van SKN-1643701197 jan.jansen@om.nl"}, "no SKN, BSN or e-mail"),
        ({"--as": " "}, "--as names you"),
        ({"--as": "local-cli"}, "command line's own name"),
        ({"--as": "a" * 101}, "is 1 to 100 characters"),
        ({"--as": "an\nn"}, "no control or invisible"),
    ],
)
def test_bad_routes_exit_2_and_open_nothing(
    store: str, change: dict[str, str], needle: str
) -> None:
    args = list(ROUTE)
    for option, value in change.items():
        args[args.index(option) + 1] = value
    code, _, err = run(route_app, "open", *args, "--store", store)
    assert code == 2
    assert needle in err
    rt = bootstrap(Settings(store_url=store))
    try:
        assert rt.exchange.routes() == []
    finally:
        rt.close()


def test_a_partners_text_is_shown_in_the_terminal_not_obeyed(store: str) -> None:
    """A CloudEvents id may hold invisible and bidirectional characters (control characters
    are refused at the exchange since): printed as they came, a right-to-left override turned
    the operator's terminal line around."""
    quarantine_one_afdoening(store, ident="a\u202eb\u2066c\u200bd")
    code, out, _ = run(quarantine_app, "list", "--partner", "om", "--store", store)
    assert code == 0
    assert "\u202e" not in out and "\u2066" not in out and "\u200b" not in out
    assert "a\\u202eb\\u2066c\\u200bd" in out


def test_a_release_takes_two_operators_named_with_as(store: str) -> None:
    quarantine_one_afdoening(store)
    code, out, _ = run(quarantine_app, "list", "--partner", "om", "--store", store)
    assert code == 0 and "waiting" in out and AFDOENING in out
    assert "parketnummer" not in out  # never the data
    code, out, _ = run(quarantine_app, "check", "om", "--expected", "1", "--store", store)
    assert code == 0 and "1 messages" in out and "clean" in out
    code, out, _ = run(
        quarantine_app, "request", "om", "--reason", "checked", "--as", "anna", "--store", store
    )
    assert code == 0, out
    assert "release 1 asked by anna" in out
    code, _, err = run(quarantine_app, "approve", "1", "--as", "anna", "--store", store)
    assert code == 2 and "second operator" in err
    code, out, _ = run(quarantine_app, "approve", "1", "--as", "bram", "--store", store)
    assert code == 0 and "approved by bram" in out
    assert "the check anna saw when asking: clean" in out  # what the second operator approves
    code, out, _ = run(quarantine_app, "releases", "--store", store)
    assert code == 0 and "anna" in out and "bram" in out and "findings" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["request", "om", "--reason", "x", "--as", " "], "--as"),
        (["request", "om", "--reason", "x", "--as", "al\n/ ice"], "no control or invisible"),
        (["request", "om", "--reason", "x", "--as", "al\tice"], "no control or invisible"),
        (["request", "om", "--reason", "x", "--as", "\x1b[31manna"], "no control or invisible"),
        (["request", "om", "--reason", "x", "--as", "a" * 5000], "is 1 to 100 characters"),
        (["request", "om", "--reason", "x", "--as", "local-cli"], "command line's own name"),
        (["request", "om", "--reason", " ", "--as", "anna"], "say why"),
        (["request", "om", "--reason", "bel jan@om.nl", "--as", "anna"], "no SKN, BSN or e-mail"),
        (["request", "nobody", "--reason", "x", "--as", "anna"], "not a partner"),
        (["check", "nobody"], "not a partner"),
        (
            ["check", "om", "--expected", "100000001"],
            "'--expected': Input should be less than or equal to",
        ),
        (
            ["request", "om", "--reason", "x", "--as", "anna", "--expected", "9" * 23],
            "'--expected': Input should be less than or equal to",
        ),
        (["list", "--partner", "nobody"], "not a partner"),
        (["releases", "--partner", "nobody"], "'nobody' is not a partner"),
    ],
)
def test_bad_quarantine_commands_exit_2_and_change_nothing(
    store: str, args: list[str], needle: str
) -> None:
    quarantine_one_afdoening(store)
    code, _, err = run(quarantine_app, *args, "--store", store)
    assert code == 2
    assert needle in err
    rt = bootstrap(Settings(store_url=store))
    try:
        assert rt.exchange.releases() == []
        assert rt.exchange.quarantine_counts() == {"om": (1, 0)}
    finally:
        rt.close()


def test_a_release_or_route_that_does_not_exist_is_exit_1(store: str) -> None:
    """Something that does not exist is exit code 1 (cli_common.fail), bad input 2: a missing
    release and route were 2."""
    quarantine_one_afdoening(store)
    code, _, err = run(quarantine_app, "approve", "7", "--as", "bram", "--store", store)
    assert code == 1 and "no quarantine release 7" in err
    code, _, err = run(route_app, "close", "99", "--reason", "x", "--as", "ann", "--store", store)
    assert code == 1 and "99" in err


def test_missing_options_are_usage_errors(store: str) -> None:
    assert run(partner_state_app, "isolate", "om", "--as", "ann", "--store", store)[0] == 2
    assert run(partner_state_app, "isolate", "om", "--reason", "x", "--store", store)[0] == 2
    route = ROUTE[: ROUTE.index("--as")]
    code, _, err = run(route_app, "open", *route, "--store", store)
    assert code == 2 and "Missing option '--as'" in err
    assert run(quarantine_app, "request", "om", "--reason", "x", "--store", store)[0] == 2
    assert run(quarantine_app, "check", "om", "--expected", "-1", "--store", store)[0] == 2
    assert history(store) == []
    rt = bootstrap(Settings(store_url=store))
    try:
        assert rt.exchange.routes() == []
    finally:
        rt.close()


@pytest.mark.parametrize("name", ["bram\n/ ice", "bram\x1b]0;x\x07", "bram\u202e", "b" * 101])
def test_an_approver_named_with_hidden_characters_or_at_length_is_refused(
    store: str, name: str
) -> None:
    """`--as` is checked as `token create --operator` checks a name: it becomes the audit
    record's actor and the release's approver, printed back on a terminal."""
    quarantine_one_afdoening(store)
    args = ["request", "om", "--reason", "checked", "--as", "anna", "--store", store]
    assert run(quarantine_app, *args)[0] == 0
    code, out, err = run(quarantine_app, "approve", "1", "--as", name, "--store", store)
    assert code == 2 and out == ""
    assert "--as: a person's name" in err
    rt = bootstrap(Settings(store_url=store))
    try:
        [release] = rt.exchange.releases()
        assert release.approved_by is None
        assert rt.exchange.quarantine_counts() == {"om": (1, 0)}
    finally:
        rt.close()


def test_online_asked_twice_names_the_release_that_waits(store: str) -> None:
    for cmd, reason in (("isolate", "Citrix"), ("return", "back")):
        args = [cmd, "om", "--reason", reason, "--as", "anna", "--store", store]
        assert run(partner_state_app, *args)[0] == 0
    ask = ["online", "om", "--reason", "ok", "--as", "anna", "--store", store]
    assert run(partner_state_app, *ask)[0] == 0
    for app, args in (
        (partner_state_app, ask),
        (quarantine_app, ["request", "om", "--reason", "ok", "--as", "bram", "--store", store]),
    ):
        code, out, err = run(app, *args)
        said = " ".join(err.split())
        assert code == 2 and "release 2" not in out
        assert "release 1 of om, asked by anna, covers what waits in its quarantine now" in said
        assert "`quarantine approve 1`" in said
    rt = bootstrap(Settings(store_url=store))
    try:
        assert [r.id for r in rt.exchange.releases()] == [1]
    finally:
        rt.close()


def test_approving_a_release_asked_before_a_new_isolation_says_the_partner_stays(
    store: str,
) -> None:
    for cmd, reason in (("isolate", "Citrix"), ("return", "back")):
        change = [cmd, "om", "--reason", reason, "--as", "anna", "--store", store]
        assert run(partner_state_app, *change)[0] == 0
    args = ["online", "om", "--reason", "ok", "--as", "anna", "--store", store]
    assert run(partner_state_app, *args)[0] == 0
    for cmd, reason in (("isolate", "again"), ("return", "back")):
        change = [cmd, "om", "--reason", reason, "--as", "anna", "--store", store]
        assert run(partner_state_app, *change)[0] == 0
    code, out, err = run(quarantine_app, "approve", "1", "--as", "bram", "--store", store)
    assert code == 0, err
    said = " ".join(out.split())
    assert "release 1 of om approved by bram" in said
    assert "note: om stays returning: release 1 was asked for before om's current state" in said
    assert history(store)[0] == ("om", "returning")
