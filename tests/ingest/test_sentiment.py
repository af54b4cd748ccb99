"""VADER sentiment wrapper: range, direction, neutral text, mapping, offline lexicon."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sextant_ingest import sentiment


@pytest.mark.parametrize(
    "text",
    [
        "Great quarter! Revenue growth was excellent and investors are thrilled.",
        "I love this company, best investment I ever made :)",
    ],
)
def test_clearly_positive_text_scores_high(text: str) -> None:
    assert sentiment.compound(text) > 0.5
    assert sentiment.score(text) > 0.75


@pytest.mark.parametrize(
    "text",
    [
        "Terrible results, huge losses and a fraud investigation. Awful.",
        "I hate this stock, worst decision ever, I lost everything.",
    ],
)
def test_clearly_negative_text_scores_low(text: str) -> None:
    assert sentiment.compound(text) < -0.5
    assert sentiment.score(text) < 0.25


@pytest.mark.parametrize(
    "text", ["The company will report earnings on Tuesday.", "", "   ", "AAPL 10-Q filed"]
)
def test_neutral_or_empty_text_is_the_middle(text: str) -> None:
    assert sentiment.compound(text) == 0.0
    assert sentiment.score(text) == 0.5


def test_negation_flips_the_sign() -> None:
    assert (
        sentiment.compound("the outlook is good")
        > 0
        > sentiment.compound("the outlook is not good")
    )


def test_financial_language_limits_are_real() -> None:
    # Documented limits: market verbs are not in the lexicon, and "shares" is positive.
    assert sentiment.compound("Shares plunge after guidance downgrade") >= 0.0
    assert sentiment.compound("Company files for bankruptcy, shares crash") > -0.5


@pytest.mark.parametrize(("c", "unit"), [(-1.0, 0.0), (0.0, 0.5), (1.0, 1.0), (0.5, 0.75)])
def test_to_unit_maps_compound_to_zero_one(c: float, unit: float) -> None:
    assert sentiment.to_unit(c) == unit


def test_to_unit_refuses_values_outside_the_compound_range() -> None:
    with pytest.raises(ValueError, match=r"compound must be in -1\.\.1, got 1\.5"):
        sentiment.to_unit(1.5)


def test_join_text_skips_empty_parts() -> None:
    assert sentiment.join_text(" Title ", None, "", "  ", "Body") == "Title\nBody"


def test_lexicon_loads_offline() -> None:
    # The lexicon ships in the wheel: scoring in a fresh interpreter with sockets disabled works.
    code = (
        "import socket\n"
        "def refuse(*a, **k):\n"
        "    raise OSError('network disabled')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from sextant_ingest import sentiment\n"
        "print(sentiment.score('what a wonderful day'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert float(out.stdout) > 0.75
