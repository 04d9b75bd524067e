import pytest

from core.throttling.rates import Rate, parse_rate


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("100/minute", Rate(100, 60)),
        ("100/5m", Rate(100, 300)),
        ("10/s", Rate(10, 1)),
        ("1000/hour", Rate(1000, 3600)),
        ("10000/day", Rate(10000, 86400)),
        ("5/2h", Rate(5, 7200)),
        ("7/15min", Rate(7, 900)),
        ("3/minutes", Rate(3, 60)),
    ],
)
def test_parses_any_period(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "100", "x/minute", "0/minute", "10/0m", "10/fortnight"])
def test_rejects_nonsense(text):
    with pytest.raises(ValueError, match="Invalid rate"):
        parse_rate(text)
