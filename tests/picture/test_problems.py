"""Every problem the picture's registers find is said in Dutch (the UI) and in English (the API
and the CLI): a problem without its English would reach an API client in Dutch."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ketenherstel.bootstrap import bootstrap
from ketenherstel.picture.service import Picture, PictureInputError, Said
from ketenherstel.settings import Settings

GOOD_BOTTLENECK = {
    "titel": "Voorraad",
    "categorie": "werklast",
    "ernst": "hoog",
    "partner": "om",
    "reeks": "all",
    "maat": "backlog",
    "begin": "2025-07-20",
}
GOOD_AGREEMENT = {
    "afspraak": "extra capaciteit",
    "eigenaar": "teamleider",
    "ingang": "2025-08-01",
    "verwacht_effect": "daalt",
    "restrisico": "termijnen",
    "risico_rol": "hoofdofficier",
    "risico_door": "iemand",
}
BAD_VALUES = ["", "x" * 3000, "a\x01b", "nonsense", "0202-01-01", "2999-01-01", "32-13-2025"]


@pytest.fixture
def picture(small_scenario: Settings, tmp_path: Path) -> Any:
    settings = dataclasses.replace(small_scenario, picture_db=str(tmp_path / "p.sqlite"))
    rt = bootstrap(settings)
    from ketenherstel.web.app import create_app

    app = create_app(rt, group_commit=False)
    yield app.state.picture
    rt.close()


def _problems(call: Callable[[], Any]) -> list[str]:
    try:
        call()
    except PictureInputError as exc:
        return list(exc.problems.values())
    return []


def test_every_problem_has_its_english(picture: Picture) -> None:
    found: list[str] = []
    for field in GOOD_BOTTLENECK:
        for bad in BAD_VALUES:
            form = {**GOOD_BOTTLENECK, field: bad}
            found += _problems(lambda form=form: picture.register_bottleneck(form, actor="t"))
    found += _problems(
        lambda: picture.register_bottleneck(
            {**GOOD_BOTTLENECK, "proces": "geen", "reeks": "channel:x->y"}, actor="t"
        )
    )
    found += _problems(
        lambda: picture.register_bottleneck({**GOOD_BOTTLENECK, "reeks": "zzz:y"}, actor="t")
    )
    number = picture.register_bottleneck(GOOD_BOTTLENECK, actor="t")
    for field in (*GOOD_AGREEMENT, "risico_tot"):
        for bad in BAD_VALUES:
            form = {**GOOD_AGREEMENT, field: bad}
            found += _problems(lambda form=form: picture.add_agreement(number, form, actor="t"))
    found += _problems(
        lambda: picture.add_agreement(
            number, {**GOOD_AGREEMENT, "risico_tot": "2025-07-01"}, actor="t"
        )
    )
    found += _problems(lambda: picture.add_agreement(999, GOOD_AGREEMENT, actor="t"))
    for bad in [*BAD_VALUES, "2025-07-01"]:
        found += _problems(
            lambda bad=bad: picture.close_bottleneck(number, {"einde": bad}, actor="t")
        )
    found += _problems(lambda: picture.close_bottleneck(999, {"einde": "2025-08-01"}, actor="t"))
    picture.close_bottleneck(number, {"einde": "2025-08-01"}, actor="t")
    found += _problems(lambda: picture.close_bottleneck(number, {"einde": "2025-08-02"}, actor="t"))
    contact = {
        "partner": "om",
        "kanaal": "telefoon",
        "beller": "advocaat",
        "ontvangen": "2025-08-01T10:00",
    }
    for field in (*contact, "beantwoord"):
        for bad in [*BAD_VALUES, "2025-07-31T10:00"]:
            form = {**contact, field: bad}
            found += _problems(lambda form=form: picture.add_contact(form, actor="t"))
    status = {"partner": "om", "kanaal": "email", "status": "down", "reden": "storing"}
    for field in status:
        for bad in BAD_VALUES:
            form = {**status, field: bad}
            found += _problems(lambda form=form: picture.set_status(form, actor="t"))
    found += _problems(lambda: picture.selection("channel", "x->y"))
    found += _problems(lambda: picture.selection("zzz", "y"))
    view = picture.selection("all", "")
    found += _problems(lambda: picture.metric(view, "nonsense"))
    assert len(found) > 60
    untranslated = sorted({p for p in found if not isinstance(p, Said)})
    assert untranslated == []
    assert all(p.en and p.en != str(p) for p in found if isinstance(p, Said))


def test_a_dutch_time_that_does_not_exist_is_refused_not_moved(picture: Picture) -> None:
    """On 30 March 2025 the clocks went from 02:00 to 03:00: 02:30 was stored as 03:30."""
    contact = {"partner": "om", "kanaal": "telefoon", "beller": "advocaat"}
    [problem] = _problems(
        lambda: picture.add_contact({**contact, "ontvangen": "2025-03-30T02:30"}, actor="t")
    )
    assert isinstance(problem, Said) and "does not exist in Dutch time" in problem.en
    assert "bestaat niet in Nederlandse tijd" in str(problem)
    # the hour that is there twice (26 October 2025, 02:30) is a time that exists
    assert (
        _problems(
            lambda: picture.add_contact({**contact, "ontvangen": "2025-10-26T02:30"}, actor="t")
        )
        == []
    )


@pytest.mark.parametrize(
    "reason", ["storing, melding van SKN-1643701197", "mail jan.jansen@om.nl voor de stand"]
)
def test_a_text_shown_on_the_picture_holds_no_skn_or_email_address(
    picture: Picture, reason: str
) -> None:
    """A hand-set status refused a person's name but took their SKN or e-mail address."""
    form = {"partner": "om", "kanaal": "email", "status": "down", "reden": reason}
    [problem] = _problems(lambda: picture.set_status(form, actor="t"))
    assert isinstance(problem, Said) and "no SKN, BSN or e-mail address" in problem.en
    assert "1643701197" not in str(problem) and "jan.jansen" not in str(problem)
    assert picture.db.statuses() == []


def test_a_bottleneck_cannot_begin_after_today(picture: Picture) -> None:
    """A bottleneck is a problem people have (a review saved one beginning in 2028): one
    beginning after the picture's today is refused and nothing is saved; today is fine."""
    from datetime import datetime, timedelta

    from ketenherstel.picture.series import TZ

    today = datetime.fromtimestamp(picture.clock(), TZ).date()  # the picture's, in Dutch time
    before = picture.db.bottlenecks()
    later = {**GOOD_BOTTLENECK, "begin": (today + timedelta(days=1)).isoformat()}
    problems = _problems(lambda: picture.register_bottleneck(later, actor="t"))
    assert [str(p) for p in problems] == ["ligt in de toekomst"]
    assert picture.db.bottlenecks() == before
    picture.register_bottleneck({**GOOD_BOTTLENECK, "begin": today.isoformat()}, actor="t")
    assert len(picture.db.bottlenecks()) == len(before) + 1


def test_a_moment_is_taken_as_people_write_dates_here_too(picture: Picture) -> None:
    """The date fields take dd-mm-jjjj, so the moments take dd-mm-jjjj uu:mm beside the form's
    own jjjj-mm-ddTuu:mm (a review was refused '01-08-2025 10:00'); an empty date is asked for
    as everywhere ('vul een datum in'), not quoted as ''."""
    contact = {"partner": "om", "kanaal": "telefoon", "beller": "advocaat"}
    times = []
    for written in ("2025-08-01T10:00", "01-08-2025 10:00", "2025-08-01 10:00"):
        picture.add_contact({**contact, "ontvangen": written}, actor="t")
        times.append(picture.contacts()[-1].received_at)
    assert len(set(times)) == 1
    said = _problems(lambda: picture.add_contact({**contact, "ontvangen": "1-8-25 10u"}, actor="t"))
    assert [str(p) for p in said] == [
        "'1-8-25 10u' is geen datum en tijd (jjjj-mm-dd uu:mm of dd-mm-jjjj uu:mm)"
    ]
    for day in ("2025-08-01", "01-08-2025", "1-8-2025"):  # a day alone is not its midnight
        said = _problems(lambda d=day: picture.add_contact({**contact, "ontvangen": d}, actor="t"))
        assert [str(p) for p in said] == [f"{day!r} heeft geen tijd: geef ook de tijd (uu:mm)"]
    assert len(picture.contacts()) == 3
    from ketenherstel.picture.service import parse_day

    with pytest.raises(ValueError, match="vul een datum in"):
        parse_day("  ")
