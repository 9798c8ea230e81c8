"""Properties that hold for any input (Hypothesis): parsers never crash and stay in bounds, cleaned text can
carry no control character or forged mention, and normalisation and matching accept anything a platform
can deliver, lone surrogates included."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.events import ChatRef, MessagePosted, UserRef
from bot.markup import Mentioned, split
from bot.parsing import INT64_MAX, parse_duration, parse_int, tokenize
from bot.text import clean_text
from rules import detectors
from rules.engine import Rule, RuleSet
from rules.normalize import compact, normalize

# Every code point, surrogates and controls included (the default alphabet leaves surrogates out).
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=300)
RULES = RuleSet(
    [
        Rule(1, "literal", "加微信"),
        Rule(2, "literal", "sex"),
        Rule(3, "literal", "刷单", exceptions=("刷单词",)),
        Rule(4, "regex", r"v\s*x\s*\d+"),
        Rule(5, "fuzzy", "casino"),
    ]
)


@given(ANY_TEXT)
def test_parse_int_never_raises_and_stays_in_64_bits(text: str) -> None:
    value = parse_int(text)
    assert value is None or -INT64_MAX <= value <= INT64_MAX


@given(st.integers(min_value=-INT64_MAX, max_value=INT64_MAX))
def test_parse_int_reads_back_every_64_bit_number(n: int) -> None:
    assert parse_int(str(n)) == n
    wide = str(n).translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))
    assert parse_int(wide) == n


@given(st.text(alphabet=st.characters(categories=("Nd", "No")), min_size=1, max_size=5))
def test_parse_int_accepts_only_ascii_digits(digits: str) -> None:
    value = parse_int(digits)  # full-width digits are ASCII digits typed on a Chinese keyboard
    assert (value is not None) == all(c in "0123456789０１２３４５６７８９" for c in digits)


@given(ANY_TEXT)
def test_clean_text_leaves_no_control_surrogate_or_marker(text: str) -> None:
    cleaned = clean_text(text)
    assert all(c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs") for c in cleaned)
    assert clean_text(cleaned) == cleaned
    assert not any(isinstance(p, Mentioned) for p in split(cleaned))


@given(ANY_TEXT, ANY_TEXT)
def test_no_event_carries_a_forged_mention(text: str, name: str) -> None:
    event = MessagePosted(
        event_key="k",
        chat=ChatRef("t", "g", name),
        user=UserRef("1", name, name),
        is_admin=False,
        at=datetime.now(UTC),
        message_id="1",
        text=text,
    )
    for value in (event.text, event.user.name, event.user.username or "", event.chat.title):
        assert not any(isinstance(p, Mentioned) for p in split(value))
        value.encode("utf-8")  # a database can store it


@settings(max_examples=300)
@given(ANY_TEXT)
def test_normalisation_and_matching_accept_anything(text: str) -> None:
    assert compact(text) == normalize(text).compact
    for hit in RULES.check(text):
        assert 0 <= hit.start <= hit.end <= len(text)
    detectors.links(text)
    detectors.contacts(text)
    detectors.mention_count(text)


@given(ANY_TEXT)
def test_tokens_point_into_the_text(text: str) -> None:
    for token in tokenize(text):
        assert 0 <= token.start <= token.end <= len(text)


@given(ANY_TEXT)
def test_parse_duration_refuses_with_value_error_only(text: str) -> None:
    try:
        delta = parse_duration(text)
    except ValueError:
        return
    assert delta.total_seconds() > 0
