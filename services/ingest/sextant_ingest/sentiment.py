"""Lexicon sentiment of short texts with VADER, as a 0..1 score and the raw compound.

VADER (Hutto & Gilbert, "VADER: A Parsimonious Rule-based Model for Sentiment Analysis of Social
Media Text", ICWSM 2014) sums the valence of words from a hand-rated lexicon, with rules for
negation ("not good"), intensifiers ("very"), ALL CAPS, "!" and "but", and squashes the sum into
the *compound* in -1..1. It is fast, deterministic and needs no model download: the lexicon
ships inside the ``vaderSentiment`` wheel, so scoring works offline.

Limits on financial text, which callers should keep in mind:

* The lexicon is general-purpose social media English, not finance. "share(s)" is positive
  (+1.2), so "Company files for bankruptcy, shares crash" scores only mildly negative; market
  words such as "bullish", "bearish", "rally", "plunge", "surge", "beat", "downgrade",
  "bankruptcy" and "short" are not in the lexicon at all; accounting terms such as "liability"
  are negative; numbers ("EPS $1.20 vs $0.95 est.") carry no valence.
* No context: it scores the text, not the instrument (``"TSLA down, F up"`` is one number) and
  does not see sarcasm, which is common on Reddit.
* Scores of very short texts (headlines) are coarse; a compound of 0 usually means "no lexicon
  word", not "balanced".

Use it as a cheap, transparent baseline signal; a finance-tuned model (e.g. FinBERT) can replace
it behind the same two functions.
"""

from __future__ import annotations

from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

METHOD = "VADER compound"
"""Short name of the scoring method, for ``method`` fields of signals."""


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    # Loading the lexicon and emoji files takes ~50 ms: once per process.
    return SentimentIntensityAnalyzer()


def compound(text: str) -> float:
    """VADER compound of ``text``: -1 (most negative) .. 0 (neutral or no cue) .. 1 (positive)."""
    if not text or not text.strip():
        return 0.0
    return float(_analyzer().polarity_scores(text)["compound"])


def to_unit(compound_value: float) -> float:
    """Map a compound in -1..1 to 0..1 (``(c + 1) / 2``): 0 negative, 0.5 neutral, 1 positive."""
    if not -1.0 <= compound_value <= 1.0:
        raise ValueError(f"compound must be in -1..1, got {compound_value}")
    return (compound_value + 1.0) / 2.0


def score(text: str) -> float:
    """Sentiment of ``text`` in 0..1 (0 negative, 0.5 neutral, 1 positive); see :func:`to_unit`."""
    return to_unit(compound(text))


def join_text(*parts: str | None) -> str:
    """Join the non-empty parts of a document (e.g. title and body) into one text to score.

    Parts are separated by a newline so a title without final punctuation does not run into the
    body's first word (VADER treats sentence ends as a boundary for "but" and caps rules).
    """
    return "\n".join(part.strip() for part in parts if part and part.strip())
