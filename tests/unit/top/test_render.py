"""`pulse top`'s screen: exact lines from a hand-written exposition (tests/unit/top/exposition.py)."""

from __future__ import annotations

from streams.top.fmt import percent
from streams.top.reading import Reading, parse
from streams.top.render import render
from tests.unit.top.exposition import TAKEN_S, TEXT

FRAME_80 = """\
pulse top · window 5m · property shop · 23:00:00 UTC
Web
  page views                     12 345   unique visitors                 2 034
  sessions                        2 500   bounce ratio       42.1 % (40.2–44.1)
  session duration               1m 35s
E-mail
  sent                              300   delivered                           0
  delivery ratio                  0.0 %   open ratio                          —
  human open ratio                    —   click-through ratio                 —
  bounce ratio                    1.0 %   spam complaint ratio                —
Social
  interactions                       40   share of voice                 37.5 %
  engagement linkedin            12.3 %   engagement x                    5.0 %
Survey
  NPS                       64.0 ± 11.6   CSAT                           80.0 %
  CES                              5.25   CSAT q3                             —
Customers
  active customers                1 234   churn ratio                     1.2 %
  retention ratio                98.8 %   AOV EUR                         41.50
  AOV USD                      1 234.57
Pipeline
  accepted/s                          —   accepted                        1 534
  rejected                            3   duplicates                          5
  late                                0   consumer lag                       42
  newest event age               12.0 s   store (pulse_up)                   up"""


def frame(width: int = 80, window: str = "5m", prop: str = "shop", text: str = TEXT) -> str:
    return render(parse(text, TAKEN_S), None, window, prop, width)


def test_the_key_gauges_of_the_chosen_window_and_property_family_by_family() -> None:
    # 1h and property blog are decoys; the open ratio (0 delivered) and q3's CSAT are not exported
    assert frame().splitlines() == FRAME_80.splitlines()


def test_ratios_are_percentages_with_one_decimal() -> None:
    assert [percent(v) for v in (0.1234, 0.0, 1.0, 0.00049)] == ["12.3 %", "0.0 %", "100.0 %", "0.0 %"]


def test_a_wide_terminal_gets_three_columns_and_a_narrow_one_a_single_column() -> None:
    wide = frame(width=120).splitlines()
    assert wide[2] == (
        "  page views                     12 345   unique visitors                 2 034"
        "   sessions                        2 500"
    )
    narrow = frame(width=40).splitlines()
    assert narrow[2:4] == [
        "  page views                     12 345",
        "  unique visitors                 2 034",
    ]
    assert max(len(line) for line in narrow) <= 40


def test_lines_are_cut_to_the_width_with_an_ellipsis() -> None:
    assert frame(width=30).splitlines()[0] == "pulse top · window 5m · prope…"


def test_another_window_shows_its_own_values_and_dashes_for_what_it_lacks() -> None:
    lines = frame(window="1h").splitlines()
    assert lines[2] == "  page views                     99 999   unique visitors                     —"
    assert lines[3] == "  sessions                            —   bounce ratio                   90.0 %"


def test_nothing_served_for_the_choice_says_what_is_served() -> None:
    lines = frame(prop="default").splitlines()
    assert lines[2] == "  page views                          —   unique visitors                     —"
    assert lines[-2:] == [
        "! nothing served for window 5m and property default",
        "  served: windows 5m, 1h; properties shop, blog",
    ]


def test_a_store_outage_is_said_in_the_pipeline_and_below() -> None:
    lines = frame(text="pulse_up 0.0\n").splitlines()
    assert "  newest event age                    —   store (pulse_up)                 DOWN" in lines
    assert lines[-1] == "! the exporter cannot read Redis (pulse_up 0): values return when it can"


def _csat_surveys(count: int) -> str:
    """Surveys s1..s<count> in property p, survey s<i> with i responses."""
    return "".join(
        f'pulse_csat_ratio_sample_size{{property="p",survey="s{i}",window="5m"}} {i}\n'
        f'pulse_csat_ratio{{property="p",survey="s{i}",window="5m"}} 0.5\n'
        for i in range(1, count + 1)
    )


def _survey_lines(text: str) -> list[str]:
    lines = frame(prop="p", text=text).splitlines()
    return lines[lines.index("Survey") + 1 : lines.index("Customers")]


def test_the_surveys_with_most_responses_come_first_and_the_rest_are_counted() -> None:
    assert _survey_lines(_csat_surveys(5)) == [
        "  CSAT s5                        50.0 %   CSAT s4                        50.0 %",
        "  CSAT s3                        50.0 %   … 2 more surveys",
    ]
    assert _survey_lines(_csat_surveys(4))[-1] == "  CSAT s2                        50.0 %   … 1 more survey"


def test_an_empty_read_is_all_dashes() -> None:
    lines = render(Reading({}, TAKEN_S), None, "5m", "shop", 80).splitlines()
    assert lines[lines.index("Survey") + 1 :][:2] == [
        "  NPS                                 —   CSAT                                —",
        "  CES                                 —",
    ]
    assert "  active customers                    —   churn ratio                         —" in lines
