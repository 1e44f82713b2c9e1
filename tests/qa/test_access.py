"""The administrator sign-in guard: wrong tokens counted across sessions, then a pause."""

from __future__ import annotations

import logging

import pytest

from qa.access import SignIn, SignInGuard, SignInPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_right_token_is_accepted_and_a_wrong_one_is_not():
    guard = SignInGuard("correct horse battery staple")
    assert guard.check("correct horse battery staple") is SignIn.ACCEPTED
    assert guard.check("correct horse battery stapl") is SignIn.WRONG
    assert guard.check("") is SignIn.WRONG


def test_too_many_wrong_tokens_pause_every_sign_in_then_it_reopens(caplog):
    clock = Clock()
    guard = SignInGuard("secret-token", SignInPolicy(max_failures=3, window_s=60, lockout_s=300), clock)
    with caplog.at_level(logging.WARNING, logger="protocol_qa.access"):
        for session in ("a", "b", "c"):  # three sessions, one guess each
            assert guard.check("guess", session) is SignIn.WRONG
    assert guard.check("secret-token") is SignIn.LOCKED  # the right token too, while locked
    assert 299 <= guard.locked_for() <= 300
    assert any("locked for 300 s" in r.getMessage() for r in caplog.records)
    assert not any("guess" in r.getMessage() or "secret-token" in r.getMessage() for r in caplog.records)
    clock.now += 301
    assert guard.locked_for() == 0
    assert guard.check("secret-token") is SignIn.ACCEPTED


def test_failures_older_than_the_window_are_forgotten():
    clock = Clock()
    guard = SignInGuard("secret-token", SignInPolicy(max_failures=3, window_s=60, lockout_s=300), clock)
    for _ in range(10):
        assert guard.check("guess") is SignIn.WRONG
        assert guard.check("guess") is SignIn.WRONG
        clock.now += 61  # two a minute: an administrator mistyping, never locked
    assert guard.check("secret-token") is SignIn.ACCEPTED


@pytest.mark.parametrize("email, allowed", [
    ("mo@council.example", True), ("MO@Council.Example ", True), ("deputy@council.example", False),
    ("", False), (None, False),
])
def test_only_listed_addresses_may_review_whatever_their_case(email, allowed):
    from qa.access import may_review
    from qa.config import Settings

    reviewers = Settings.from_env({"PROTOCOL_QA_REVIEWERS": " MO@council.example, clerk@council.example"}).reviewers
    assert reviewers == ("mo@council.example", "clerk@council.example")
    assert may_review(email, reviewers) is allowed


def test_a_reviewer_list_entry_that_is_not_an_address_names_the_variable():
    from qa.config import Settings

    with pytest.raises(ValueError, match="PROTOCOL_QA_REVIEWERS: 'alex morgan' is not an e-mail address"):
        Settings.from_env({"PROTOCOL_QA_REVIEWERS": "mo@council.example,alex morgan"})
    assert Settings.from_env({}).reviewers == ()


@pytest.mark.parametrize("roles, allowed", [
    (["MonitoringOfficer", "Reader"], True), ("MonitoringOfficer", True), (["Reader"], False), (None, False),
    ("MonitoringOfficerDeputy", False),
])
def test_the_reviewers_role_in_the_roles_claim_may_review(roles, allowed):
    from qa.access import may_review
    from qa.config import Settings

    settings = Settings.from_env({"PROTOCOL_QA_REVIEWER_ROLE": "MonitoringOfficer"})
    assert may_review("someone@council.example", settings.reviewers, roles=roles,
                      reviewer_role=settings.reviewer_role) is allowed
    assert not may_review("someone@council.example", (), roles=roles, reviewer_role="")
