"""The go-live API: read the built-in plans and run a step, with its release left to a second
operator."""

from __future__ import annotations

import pytest

from tests.web.conftest import Api
from tests.web.test_isolation_api import api, assert_problem, om_afdoening, submit  # noqa: F401

RUNS = "/v1/go-live-plans/om-2025/steps/{step}/runs"


def test_viewers_read_the_plans_and_their_steps(api: Api) -> None:  # noqa: F811
    r = api.client.get("/v1/go-live-plans", headers=api.h("viewer"))
    assert r.status_code == 200, r.text
    (plan,) = [p for p in r.json() if p["name"] == "om-2025"]
    assert [s["name"] for s in plan["steps"]] == [
        "isolation",
        "wave-1",
        "wave-2",
        "wave-3",
        "restored",
    ]
    one = api.client.get("/v1/go-live-plans/om-2025", headers=api.h("viewer")).json()
    assert one["plan"]["isolation"]["partners"] == ["om"]
    assert_problem(api.client.get("/v1/go-live-plans/nope", headers=api.h("viewer")), 404, "nope")
    assert_problem(api.client.get("/v1/go-live-plans", headers=api.h("politie")), 403)


def test_an_operator_runs_the_plan_and_a_second_operator_releases_the_quarantine(
    api: Api,  # noqa: F811
) -> None:
    r = api.client.post(RUNS.format(step="isolation"), json={}, headers=api.h("operator"))
    assert r.status_code == 200, r.text
    assert r.json()["partners"] == [{"partner": "om", "state": "isolated"}]
    submit(api, "om", om_afdoening(api, "10-000001-25"))

    preview = api.client.post(
        RUNS.format(step="wave-1"), json={"dryRun": True}, headers=api.h("operator")
    ).json()
    assert preview["dryRun"] is True
    assert preview["releasesRequested"] == [{"partner": "om", "releaseId": None, "messages": 1}]
    assert api.runtime.exchange.partner_states()["om"].state == "isolated"

    run = api.client.post(RUNS.format(step="wave-1"), json={}, headers=api.h("operator")).json()
    assert run["changed"] is True
    (request,) = run["releasesRequested"]
    assert {c["scope"] for c in run["channels"]} >= {"process:registratie-justitiele-gegevens"}
    same = api.client.post(
        f"/v1/quarantine-releases/{request['releaseId']}/approval", headers=api.h("operator")
    )
    assert_problem(same, 409)
    ok = api.client.post(
        f"/v1/quarantine-releases/{request['releaseId']}/approval", headers=api.h("operator2")
    )
    assert ok.status_code == 200, ok.text
    got = api.client.get("/v1/deliveries", headers=api.h("justid")).json()
    assert len(got) == 1


def test_a_step_run_again_answers_that_nothing_changed(api: Api) -> None:  # noqa: F811
    first = api.client.post(RUNS.format(step="isolation"), json={}, headers=api.h("operator"))
    assert first.json()["changed"] is True
    for body in ({}, {"dryRun": True}):
        again = api.client.post(RUNS.format(step="isolation"), json=body, headers=api.h("operator"))
        assert again.status_code == 200, again.text
        answer = again.json()
        assert answer["changed"] is False, body
        assert (answer["partners"], answer["channels"], answer["releasesRequested"]) == ([], [], [])


@pytest.mark.parametrize(
    ("who", "step", "body", "status", "needle"),
    [
        ("viewer", "isolation", {}, 403, "operator"),
        ("politie", "isolation", {}, 403, ""),
        ("operator", "wave-9", {}, 400, "wave-9"),
        ("operator", "isolation", {"dryRun": "maybe"}, 400, "dryRun"),
        ("operator", "isolation", {"extra": 1}, 400, "extra"),
        # A wave before the plan's isolation step: the CLI's message, as a conflict, not a 500.
        ("operator", "wave-1", {"dryRun": True}, 409, "apply `isolation` first"),
        ("operator", "wave-1", {}, 409, "apply `isolation` first"),
    ],
)
def test_bad_runs_are_refused_and_change_nothing(
    api: Api,  # noqa: F811
    who: str,
    step: str,
    body: dict[str, object],
    status: int,
    needle: str,
) -> None:
    r = api.client.post(RUNS.format(step=step), json=body, headers=api.h(who))
    assert_problem(r, status, needle)
    assert api.runtime.exchange.partner_states()["om"].state == "online"
    assert api.runtime.exchange.channels() == []
