"""THROTTLE_SCOPES parsed once into typed policies, checked, and re-read when it changes."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from core.throttling.policies import scope_policy
from core.throttling.rates import parse_rate


def test_a_scope_is_parsed_into_its_policy():
    # when the login-per-account scope is read
    policy = scope_policy("login_email")
    # then its rates, key, failure policy and refund flag are typed values
    assert policy.rates[0] == parse_rate("5/minute")
    assert policy.key == "email"
    assert policy.fails_closed
    assert policy.refunded


def test_a_changed_setting_is_read_again(settings):
    # given a scope whose rate an operator changed
    settings.THROTTLE_SCOPES = {
        **settings.THROTTLE_SCOPES,
        "search": {"rates": ["3/minute"], "key": "client"},
    }
    # then the new policy is what the throttle reads, failing open by default
    policy = scope_policy("search")
    assert policy.rates == (parse_rate("3/minute"),)
    assert not policy.fails_closed


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ({"rates": ["3/minute"], "key": "ipp"}, "unknown key"),
        ({"rates": ["3/fortnight"], "key": "ip"}, "unknown period unit"),
        ({"rates": ["3/minute"], "key": "ip", "on_redis_failure": "shut"}, "on_redis_failure"),
    ],
)
def test_a_mistake_names_its_scope(settings, raw, complaint):
    # given a scope with a mistake in it
    settings.THROTTLE_SCOPES = {**settings.THROTTLE_SCOPES, "search": raw}
    # then reading any scope says which one is wrong and how
    with pytest.raises(ImproperlyConfigured, match=rf"'search'.*{complaint}"):
        scope_policy("anon")


def test_an_unknown_scope_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="no scope 'nope'"):
        scope_policy("nope")
