"""The picture's SVG charts and data tables: well-formed, accessible, Dutch, deterministic, fast."""

from __future__ import annotations

import math
import re
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketenherstel.picture import charts
from ketenherstel.picture.charts import (
    COLOURS,
    Band,
    Marker,
    Series,
    bar_chart,
    data_table,
    format_date,
    format_number,
    line_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
AMS = ZoneInfo("Europe/Amsterdam")
START = datetime(2025, 7, 1, tzinfo=AMS)
CHAR_WIDTH = charts._CHAR  # the charts' own estimate of a character's width
PAIR = re.compile(r"-?\d+(?:\.\d+)?,-?\d+(?:\.\d+)?")


def daily(name: str, values: list[float], start: datetime = START) -> Series:
    return Series(name, tuple((start + timedelta(days=i), v) for i, v in enumerate(values)))


def parse(svg: str) -> ET.Element:
    assert svg.startswith("<svg"), "inline SVG carries no XML declaration"
    return ET.fromstring(svg)


def texts(root: ET.Element) -> list[str]:
    return [el.text or "" for el in root.iter(f"{SVG}text")]


def paths(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{SVG}path"))


def point_count(path: ET.Element) -> int:
    return len(PAIR.findall(path.get("d", "")))


def assert_accessible(root: ET.Element, chart_id: str) -> None:
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    labelled = (root.get("aria-labelledby") or "").split()
    assert labelled == [f"{chart_id}-title", f"{chart_id}-desc"]
    ids = {el.get("id"): el for el in root.iter() if el.get("id")}
    assert ids[labelled[0]].tag == f"{SVG}title"
    assert ids[labelled[1]].tag == f"{SVG}desc"
    assert (ids[labelled[0]].text or "").strip()
    assert (ids[labelled[1]].text or "").strip()


def desc_of(root: ET.Element) -> str:
    desc = root.find(f"{SVG}desc")
    assert desc is not None
    return desc.text or ""


def contrast_against_white(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return 1.05 / (luminance + 0.05)


# --- number and date formats ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (31204, 0, "31.204"),
        (2.5, 1, "2,5"),
        (1234567.891, 2, "1.234.567,89"),
        (-31204, 0, "-31.204"),
        (-1234.5, 1, "-1.234,5"),
        (-0.04, 1, "0,0"),
        (0, 0, "0"),
        (999.96, 1, "1.000,0"),
        (math.nan, 0, "\u2013"),
        (math.inf, 2, "\u2013"),
    ],
)
def test_format_number_uses_dutch_separators(value: float, decimals: int, expected: str) -> None:
    assert format_number(value, decimals) == expected


def test_format_number_refuses_negative_decimals() -> None:
    with pytest.raises(ValueError, match="decimals"):
        format_number(1.0, -1)


def test_format_date_is_dutch_and_local() -> None:
    at = datetime(2025, 7, 17, 19, 40, tzinfo=UTC)
    assert format_date(at) == "17-07-2025"
    assert format_date(at, with_time=True) == "17-07-2025 21:40"
    assert format_date(at, "UTC", with_time=True) == "17-07-2025 19:40"
    # 23:30 UTC in winter is already the next day in Amsterdam
    assert format_date(datetime(2025, 12, 31, 23, 30, tzinfo=UTC)) == "01-01-2026"


def test_naive_datetimes_are_refused_with_a_hint() -> None:
    naive = datetime(2025, 7, 17, 12, 0)
    with pytest.raises(ValueError, match="naive"):
        format_date(naive)
    with pytest.raises(ValueError, match="series 'OM'"):
        Series("OM", ((naive, 1.0),))
    with pytest.raises(ValueError, match="naive"):
        Marker(naive, "OM afgesloten")
    with pytest.raises(ValueError, match="naive"):
        Band(START, naive, "knelpunt")


def test_a_band_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        Band(START, START - timedelta(days=1), "knelpunt")


@pytest.mark.parametrize("chart_id", ["", "1chart", "a b", 'x"y', "a<b"])
def test_an_unusable_chart_id_is_refused(chart_id: str) -> None:
    with pytest.raises(ValueError, match="chart_id"):
        line_chart(chart_id, "t", [], unit="uur")
    with pytest.raises(ValueError, match="chart_id"):
        data_table(chart_id, "t", [], unit="uur")
    with pytest.raises(ValueError, match="chart_id"):
        bar_chart(chart_id, "t", [], unit="uur")


# --- line chart ----------------------------------------------------------------------------


def test_line_chart_is_well_formed_and_labelled_for_assistive_technology() -> None:
    svg = line_chart(
        "instroom",
        "Instroom per dag",
        [daily("OM", [10, 31204, 20]), daily("Politie", [5, 6, 7])],
        unit="berichten",
    )
    root = parse(svg)
    assert_accessible(root, "instroom")
    desc = desc_of(root)
    assert "OM" in desc and "Politie" in desc
    assert "01-07-2025" in desc and "03-07-2025" in desc
    assert "31.204 berichten (OM, 02-07-2025)" in desc
    assert root.findtext(f"{SVG}title") == "Instroom per dag"
    assert "berichten" in texts(root)


def test_line_chart_uses_only_plain_svg() -> None:
    svg = line_chart(
        "c",
        "t",
        [daily("a", [1, 2])],
        unit="uur",
        markers=[Marker(START + timedelta(hours=12), "m")],
        bands=[Band(START, None, "b")],
    )
    for forbidden in ("var(", "foreignObject", "<script", "style=", "<?xml", "class="):
        assert forbidden not in svg
    root = parse(svg)
    assert root.get("font-family") == "sans-serif"


def test_text_is_escaped_everywhere() -> None:
    nasty = 'A <b> & "c"'
    svg = line_chart(
        "c",
        f"Titel {nasty}",
        [daily(f"reeks {nasty}", [1, 2, 3])],
        unit=f"eenheid {nasty}",
        markers=[Marker(START + timedelta(days=1), f"gebeurtenis {nasty}")],
        bands=[Band(START, START + timedelta(days=2), f"knelpunt {nasty}")],
    )
    assert "<b>" not in svg
    root = parse(svg)
    assert root.findtext(f"{SVG}title") == f"Titel {nasty}"
    shown = texts(root)
    assert f"reeks {nasty}" in shown
    assert f"eenheid {nasty}" in shown
    assert f"gebeurtenis {nasty}" in shown
    assert f"knelpunt {nasty}" in shown
    assert paths(root)[0].get("data-series") == f"reeks {nasty}"


def test_each_series_is_one_path_with_one_vertex_per_point() -> None:
    series = [daily(f"reeks {i}", [float(i * j % 17) for j in range(20 + i)]) for i in range(8)]
    root = parse(line_chart("c", "t", series, unit="berichten"))
    drawn = paths(root)
    assert [p.get("data-series") for p in drawn] == [s.name for s in series]
    assert [point_count(p) for p in drawn] == [len(s.points) for s in series]
    styles = {(p.get("stroke"), p.get("stroke-dasharray")) for p in drawn}
    assert len(styles) == 8, "each line has its own colour and dash pattern"
    assert len({p.get("stroke-dasharray") for p in drawn}) == 8, "not told apart by colour alone"


def test_series_colours_contrast_at_least_3_to_1_with_white() -> None:
    for colour in COLOURS:
        assert contrast_against_white(colour) >= 3.0, colour


def test_the_legend_names_every_series_with_its_line_style() -> None:
    series = [daily("OM", [1, 2]), daily("Politie", [2, 1])]
    root = parse(line_chart("c", "t", series, unit="berichten"))
    assert {"OM", "Politie"} <= set(texts(root))
    legend_dashes = [
        line.get("stroke-dasharray")
        for line in root.iter(f"{SVG}line")
        if line.get("stroke-width") == "2.5"
    ]
    assert legend_dashes == [p.get("stroke-dasharray") for p in paths(root)]


def test_points_out_of_order_are_drawn_in_time_order() -> None:
    a = Series(
        "a", ((START + timedelta(days=2), 3.0), (START, 1.0), (START + timedelta(days=1), 2.0))
    )
    b = daily("a", [1.0, 2.0, 3.0])
    assert line_chart("c", "t", [a], unit="uur") == line_chart("c", "t", [b], unit="uur")


def test_a_missing_value_breaks_the_line() -> None:
    series = daily("a", [1, 2, math.nan, 4, 5, 6])
    path = paths(parse(line_chart("c", "t", [series], unit="uur")))[0]
    assert path.get("d", "").count("M") == 2
    assert point_count(path) == 5


def test_a_lone_point_is_shown_as_a_dot() -> None:
    root = parse(line_chart("c", "t", [daily("a", [7.0])], unit="uur"))
    assert point_count(paths(root)[0]) == 1
    assert len(list(root.iter(f"{SVG}circle"))) == 1


def test_y_axis_runs_from_zero_to_a_nice_maximum_in_dutch_numbers() -> None:
    root = parse(line_chart("c", "t", [daily("a", [100, 31204, 5])], unit="berichten"))
    ticks = [el.text for el in root.iter(f"{SVG}text") if el.get("text-anchor") == "end"]
    assert ticks == ["0", "10.000", "20.000", "30.000", "40.000"]


@pytest.mark.parametrize("top", [0.3, 1, 3, 6.5, 10, 13, 16, 99, 126, 151, 251, 301, 31204, 1e7])
def test_y_axis_has_four_to_six_intervals_above_the_maximum(top: float) -> None:
    root = parse(line_chart("c", "t", [daily("a", [0, top])], unit="uur"))
    ticks = [el.text or "" for el in root.iter(f"{SVG}text") if el.get("text-anchor") == "end"]
    assert 4 <= len(ticks) - 1 <= 6
    values = [float(t.replace(".", "").replace(",", ".")) for t in ticks]
    assert values[0] == 0
    assert values[-1] >= top


def test_time_axis_has_dutch_month_labels_over_months() -> None:
    root = parse(line_chart("c", "t", [daily("a", [1.0] * 200)], unit="uur"))
    shown = texts(root)
    for label in ("aug 2025", "sep 2025", "okt 2025", "nov 2025", "dec 2025", "jan 2026"):
        assert label in shown


def test_time_axis_has_day_labels_over_weeks() -> None:
    root = parse(line_chart("c", "t", [daily("a", [1.0] * 10)], unit="uur"))
    assert {"1 jul", "2 jul", "10 jul"} <= set(texts(root))


def test_time_axis_ticks_on_local_hours_across_the_dst_change() -> None:
    start = datetime(2025, 10, 25, 20, tzinfo=UTC)
    series = Series("a", tuple((start + timedelta(hours=h), float(h)) for h in range(12)))
    root = parse(line_chart("c", "t", [series], unit="uur"))
    shown = texts(root)
    assert "26 okt" in shown  # local midnight
    assert "23:00" in shown or "22:00" in shown
    desc = desc_of(root)
    assert "25-10-2025 22:00" in desc and "26-10-2025 08:00" in desc


def test_markers_outside_the_period_are_left_out() -> None:
    series = [daily("a", [1, 2, 3, 4])]
    markers = [
        Marker(START - timedelta(days=5), "te vroeg"),
        Marker(START + timedelta(days=1, hours=21, minutes=40), "OM afgesloten"),
        Marker(START + timedelta(days=30), "te laat"),
    ]
    root = parse(line_chart("c", "t", series, unit="uur", markers=markers))
    shown = texts(root)
    assert "OM afgesloten" in shown
    assert "te vroeg" not in shown and "te laat" not in shown
    dashed = [ln for ln in root.iter(f"{SVG}line") if ln.get("stroke-dasharray") == "4 3"]
    assert len(dashed) == 1
    desc = desc_of(root)
    assert "OM afgesloten (02-07-2025 21:40)" in desc
    assert "te vroeg" not in desc


def test_close_markers_get_staggered_label_rows() -> None:
    markers = [Marker(START + timedelta(hours=h), f"gebeurtenis {h}") for h in (1, 2, 3)]
    root = parse(line_chart("c", "t", [daily("a", [1] * 60)], unit="uur", markers=markers))
    rows = {el.get("y") for el in root.iter(f"{SVG}text") if (el.text or "").startswith("gebeur")}
    assert len(rows) == 3


def test_crowded_marker_labels_are_shortened_rather_than_overlapped() -> None:
    markers = [Marker(START + timedelta(hours=h), f"gebeurtenis {h}") for h in (1, 2, 3, 4, 5)]
    root = parse(line_chart("c", "t", [daily("a", [1] * 60)], unit="uur", markers=markers))
    dashed = [ln for ln in root.iter(f"{SVG}line") if ln.get("stroke-dasharray") == "4 3"]
    assert len(dashed) == 5, "every marker keeps its line"
    labels = [el for el in root.iter(f"{SVG}text") if (el.text or "").startswith("gebeurt")]
    by_row: dict[str, list[tuple[float, str]]] = {}
    for el in labels:
        by_row.setdefault(el.get("y", ""), []).append((float(el.get("x", "")), el.text or ""))
    assert len(by_row) == 3
    for row in by_row.values():
        row.sort()
        for (x, text), (next_x, _) in pairwise(row):
            assert x + len(text) * CHAR_WIDTH <= next_x
    shortened = [text for row in by_row.values() for _, text in row if text.endswith("\u2026")]
    assert shortened or len(labels) < len(markers)
    assert all(f"gebeurtenis {h}" in desc_of(root) for h in (1, 2, 3, 4, 5))


def test_bands_are_light_clipped_to_the_period_and_labelled() -> None:
    series = [daily("a", [1] * 10)]
    bands = [
        Band(START - timedelta(days=3), START + timedelta(days=2), "knelpunt OM"),
        Band(START + timedelta(days=6), None, "knelpunt Politie"),
        Band(START - timedelta(days=30), START - timedelta(days=20), "lang geleden"),
    ]
    root = parse(line_chart("c", "t", series, unit="uur", bands=bands))
    rects = list(root.iter(f"{SVG}rect"))
    assert len(rects) == 2
    for rect in rects:
        assert float(rect.get("fill-opacity", "1")) <= 0.15
    path_x = [
        float(x) for x, _ in (pair.split(",") for pair in PAIR.findall(paths(root)[0].get("d", "")))
    ]
    first, second = rects
    assert float(first.get("x", "")) == pytest.approx(min(path_x), abs=0.1)
    end = float(second.get("x", "")) + float(second.get("width", ""))
    assert end == pytest.approx(max(path_x), abs=0.1)
    shown = texts(root)
    assert "knelpunt OM" in shown and "knelpunt Politie" in shown
    assert "lang geleden" not in shown and "lang geleden" not in desc_of(root)


@pytest.mark.parametrize(
    "series",
    [
        [],
        [Series("OM", ())],
        [daily("OM", [math.nan, math.nan])],
    ],
    ids=["no series", "no points", "only missing values"],
)
def test_no_data_still_makes_a_valid_labelled_chart(series: list[Series]) -> None:
    root = parse(
        line_chart("leeg", "Leeg", series, unit="uur", markers=[Marker(START, "m")], bands=[])
    )
    assert_accessible(root, "leeg")
    assert "Geen gegevens" in texts(root)
    assert not paths(root)
    assert "geen gegevens" in desc_of(root)


def test_charts_are_deterministic() -> None:
    def draw() -> str:
        series = [daily(f"r{i}", [float((i + 1) * j % 11) for j in range(30)]) for i in range(3)]
        return line_chart(
            "c",
            "t",
            series,
            unit="uur",
            markers=[Marker(START + timedelta(days=3), "m")],
            bands=[Band(START + timedelta(days=5), None, "b")],
        )

    assert draw() == draw()


def test_eight_series_of_200_points_draw_in_under_5_ms() -> None:
    series = [
        daily(f"reeks {i}", [float((j * (i + 3) * 37) % 900) for j in range(200)]) for i in range(8)
    ]
    markers = [Marker(START + timedelta(days=d, hours=9), f"gebeurtenis {d}") for d in (3, 50, 120)]
    bands = [Band(START + timedelta(days=10), START + timedelta(days=30), "knelpunt")]
    best = math.inf
    for _ in range(15):
        began = time.perf_counter()
        line_chart("c", "t", series, unit="berichten", markers=markers, bands=bands)
        best = min(best, time.perf_counter() - began)
    assert best < 0.005


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.integers(min_value=0, max_value=400 * 24),
                st.one_of(
                    st.floats(min_value=-1e6, max_value=1e9, allow_nan=False), st.just(math.nan)
                ),
            ),
            max_size=30,
        ),
        max_size=10,
    ),
    st.text(max_size=12),
)
def test_any_input_gives_well_formed_svg_with_every_point_drawn(
    raw: list[list[tuple[int, float]]], name: str
) -> None:
    base = datetime(2025, 3, 1, tzinfo=UTC)
    series = [
        Series(f"{name}{i}", tuple((base + timedelta(hours=h), v) for h, v in points))
        for i, points in enumerate(raw)
    ]
    markers = [Marker(base + timedelta(hours=len(name) * 50), name)]
    root = parse(line_chart("c", f"t {name}", series, unit=name, markers=markers))
    assert_accessible(root, "c")
    finite = [sum(1 for _, v in s.points if math.isfinite(v)) for s in series]
    assert [point_count(p) for p in paths(root)] == [n for n in finite if n]


# --- data table ----------------------------------------------------------------------------


def table_rows(html: str) -> tuple[ET.Element, list[list[str]]]:
    root = ET.fromstring(html)
    rows = [[cell.text or "" for cell in tr] for tr in root.iter("tr")]
    return root, rows


def test_data_table_has_caption_headers_and_dutch_numbers() -> None:
    series = [
        daily("OM", [31204, 5, 1234567]),
        Series("Doorlooptijd", ((START, 2.5), (START + timedelta(days=2), math.nan))),
    ]
    root, rows = table_rows(data_table("instroom", "Instroom", series, unit="berichten"))
    assert root.tag == "table"
    assert "rhc-table" in (root.get("class") or "").split()
    assert root.findtext("caption") == "Instroom (berichten)"
    assert [th.get("scope") for th in root.iter("th")][:3] == ["col", "col", "col"]
    assert rows[0] == ["Datum", "OM", "Doorlooptijd"]
    assert rows[1:] == [
        ["01-07-2025", "31.204", "2,5"],
        ["02-07-2025", "5", "\u2013"],
        ["03-07-2025", "1.234.567", "\u2013"],
    ]
    body_heads = [tr[0] for tr in root.iter("tr")][1:]
    assert {th.tag for th in body_heads} == {"th"}
    assert {th.get("scope") for th in body_heads} == {"row"}


def test_data_table_names_its_unit_once() -> None:
    series = [daily("mediaan", [1.0, 2.0])]
    root, _ = table_rows(data_table("d", "Doorlooptijd, mediaan (uur): OM", series, unit="uur"))
    assert root.findtext("caption") == "Doorlooptijd, mediaan (uur): OM"
    root, _ = table_rows(data_table("d", "Doorlooptijd", series, unit="uur"))
    assert root.findtext("caption") == "Doorlooptijd (uur)"


def test_data_table_dates_are_local_across_the_dst_change() -> None:
    # Amsterdam midnights around 26 October 2025: 22:00 UTC before the change, 23:00 UTC after.
    days = [datetime(2025, 10, d, tzinfo=AMS) for d in (25, 26, 27)]
    assert [d.astimezone(UTC).hour for d in days] == [22, 22, 23]
    series = Series("OM", tuple((d.astimezone(UTC), 1.0) for d in days))
    _, rows = table_rows(data_table("t", "t", [series], unit="berichten"))
    assert rows[0][0] == "Datum"
    assert [r[0] for r in rows[1:]] == ["25-10-2025", "26-10-2025", "27-10-2025"]


def test_data_table_shows_times_when_points_are_not_at_local_midnight() -> None:
    # 00:00 and 01:00 UTC on 26 October 2025 are both 02:00 in Amsterdam (the hour repeats).
    start = datetime(2025, 10, 25, 23, tzinfo=UTC)
    series = Series("OM", tuple((start + timedelta(hours=h), float(h)) for h in range(4)))
    _, rows = table_rows(data_table("t", "t", [series], unit="uur"))
    assert rows[0][0] == "Datum en tijd"
    assert [r[0] for r in rows[1:]] == [
        "26-10-2025 01:00",
        "26-10-2025 02:00",
        "26-10-2025 02:00",
        "26-10-2025 03:00",
    ]


def test_data_table_escapes_names_and_title() -> None:
    html = data_table("t", "a <&> b\x1f", [daily("x <&> y", [1])], unit="u&u")
    root, rows = table_rows(html)
    assert root.findtext("caption") == "a <&> b (u&u)"
    assert rows[0][1] == "x <&> y"


def test_characters_xml_forbids_are_dropped() -> None:
    root = parse(line_chart("c", "a\x00b\x1fc", [daily("d\x0be", [1])], unit="u\ud800"))
    assert root.findtext(f"{SVG}title") == "abc"
    assert "de" in texts(root) and "u" in texts(root)


def test_data_table_samples_evenly_and_keeps_the_last_row() -> None:
    series = [daily("a", [float(i) for i in range(10)])]
    _, rows = table_rows(data_table("t", "t", series, unit="u", max_rows=4))
    assert [r[1] for r in rows[1:]] == ["0", "3", "6", "9"]
    _, rows = table_rows(data_table("t", "t", series, unit="u", max_rows=3))
    assert [r[1] for r in rows[1:]] == ["0", "4", "9"]
    _, rows = table_rows(data_table("t", "t", series, unit="u", max_rows=1))
    assert [r[1] for r in rows[1:]] == ["9"]
    _, rows = table_rows(data_table("t", "t", series, unit="u", max_rows=50))
    assert len(rows) == 11
    root, _ = table_rows(data_table("t", "t", series, unit="u", max_rows=4))
    assert "4 van 10" in (root.findtext("caption") or "")
    with pytest.raises(ValueError, match="max_rows"):
        data_table("t", "t", series, unit="u", max_rows=0)


def test_data_table_without_points_says_so() -> None:
    _, rows = table_rows(data_table("t", "t", [Series("OM", ())], unit="u"))
    assert rows == [["Datum", "OM"], ["Geen gegevens"]]


# --- bar chart -----------------------------------------------------------------------------


def test_bar_chart_is_well_formed_with_values_at_the_bar_ends() -> None:
    bars = [("OM", 31204.0), ("Politie <&>", 12000.0), ("Rechtspraak", 0.0)]
    svg = bar_chart("achterstand", "Achterstand", bars, unit="berichten")
    root = parse(svg)
    assert_accessible(root, "achterstand")
    shown = texts(root)
    assert {"OM", "Politie <&>", "Rechtspraak", "31.204", "12.000", "0"} <= set(shown)
    widths = [float(r.get("width", "")) for r in root.iter(f"{SVG}rect")]
    assert len(widths) == 2 and widths[0] > widths[1] > 0
    assert widths[1] / widths[0] == pytest.approx(12000 / 31204, rel=0.01)
    assert "OM: 31.204" in desc_of(root)


def test_bar_chart_without_bars_says_so() -> None:
    root = parse(bar_chart("leeg", "Leeg", [], unit="berichten"))
    assert_accessible(root, "leeg")
    assert "Geen gegevens" in texts(root)
