"""Recurrence maths: ``next_fire_time`` and the checks of ``check_recurrence``."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from plinth._pipelines.recurrence import check_recurrence, describe, next_fire_time, zone
from plinth.exceptions import UserErrorException

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def at(text: str, tz: ZoneInfo = UTC) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def wall(ts: float, tz: ZoneInfo = UTC) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M:%S %z")


def fires(recurrence: dict, after: float, count: int, tz: ZoneInfo = UTC, **kw) -> list[str]:
    out, t = [], after
    for _ in range(count):
        t = next_fire_time(recurrence, t, **kw)
        out.append(wall(t, tz))
    return out


# -- elapsed-time frequencies -------------------------------------------------------------------


def test_hourly_from_start_time():
    rec = {"frequency": "Hour", "interval": 1, "start_time": "2024-05-01T10:20:00"}
    assert fires(rec, at("2024-05-01T12:00:00"), 3) == [
        "2024-05-01 12:20:00 +0000", "2024-05-01 13:20:00 +0000", "2024-05-01 14:20:00 +0000"]


def test_every_15_minutes():
    rec = {"frequency": "Minute", "interval": 15, "start_time": "2024-05-01T00:05:00"}
    assert fires(rec, at("2024-05-01T09:00:00"), 4) == [
        "2024-05-01 09:05:00 +0000", "2024-05-01 09:20:00 +0000",
        "2024-05-01 09:35:00 +0000", "2024-05-01 09:50:00 +0000"]


def test_next_is_strictly_after():
    rec = {"frequency": "Minute", "interval": 15, "start_time": "2024-05-01T00:00:00"}
    assert next_fire_time(rec, at("2024-05-01T09:15:00")) == at("2024-05-01T09:30:00")
    assert next_fire_time(rec, at("2024-05-01T09:14:59.5")) == at("2024-05-01T09:15:00")


def test_overdue_by_many_periods_gives_the_next_future_time():
    rec = {"frequency": "Minute", "interval": 5, "start_time": "2020-01-01T00:00:00"}
    assert next_fire_time(rec, at("2024-05-01T09:02:00")) == at("2024-05-01T09:05:00")


def test_hourly_counts_elapsed_hours_across_dst():
    rec = {"frequency": "Hour", "interval": 1, "start_time": "2024-03-31T00:00:00",
           "time_zone": "Europe/Berlin"}
    got = fires(rec, at("2024-03-31T00:30:00", BERLIN), 3, BERLIN)
    assert got == ["2024-03-31 01:00:00 +0100", "2024-03-31 03:00:00 +0200",
                   "2024-03-31 04:00:00 +0200"]
    autumn = {**rec, "start_time": "2024-10-27T00:00:00"}
    got = fires(autumn, at("2024-10-27T01:30:00", BERLIN), 3, BERLIN)
    assert got == ["2024-10-27 02:00:00 +0200", "2024-10-27 02:00:00 +0100",
                   "2024-10-27 03:00:00 +0100"]


def test_without_start_time_the_anchor_is_the_start():
    rec = {"frequency": "Hour", "interval": 2}
    anchor = at("2024-05-01T10:07:00")
    assert next_fire_time(rec, anchor - 1, anchor=anchor) == anchor
    assert next_fire_time(rec, at("2024-05-01T13:00:00"), anchor=anchor) == at(
        "2024-05-01T14:07:00")


def test_start_time_in_the_future_is_the_first_fire():
    for frequency in ("Minute", "Hour", "Day", "Week", "Month"):
        rec = {"frequency": frequency, "interval": 3, "start_time": "2030-01-02T03:04:00"}
        assert next_fire_time(rec, at("2024-05-01T00:00:00")) == at("2030-01-02T03:04:00")


def test_start_time_with_an_offset():
    rec = {"frequency": "Day", "interval": 1, "start_time": "2024-05-01T06:30:00+02:00",
           "time_zone": "UTC"}
    assert next_fire_time(rec, at("2024-05-03T00:00:00")) == at("2024-05-03T04:30:00")


# -- wall-clock frequencies -----------------------------------------------------------------------


def test_daily_at_0630_berlin_across_spring_dst():
    rec = {"frequency": "Day", "interval": 1, "hours": [6], "minutes": [30],
           "time_zone": "Europe/Berlin", "start_time": "2024-03-01T00:00:00"}
    got = fires(rec, at("2024-03-29T12:00:00", BERLIN), 4, BERLIN)
    assert got == ["2024-03-30 06:30:00 +0100", "2024-03-31 06:30:00 +0200",
                   "2024-04-01 06:30:00 +0200", "2024-04-02 06:30:00 +0200"]


def test_daily_at_0630_berlin_across_autumn_dst():
    rec = {"frequency": "Day", "interval": 1, "time_of_day": "06:30",
           "time_zone": "W. Europe Standard Time", "start_time": "2024-10-01T00:00:00"}
    got = fires(rec, at("2024-10-26T12:00:00", BERLIN), 2, BERLIN)
    assert got == ["2024-10-27 06:30:00 +0100", "2024-10-28 06:30:00 +0100"]
    assert (next_fire_time(rec, at("2024-10-27T06:30:00", BERLIN))
            - at("2024-10-26T06:30:00", BERLIN)) == 2 * 86400 + 3600


def test_daily_from_start_time_of_day():
    rec = {"frequency": "Day", "interval": 2, "start_time": "2024-05-01T18:45:00",
           "time_zone": "America/New_York"}
    got = fires(rec, at("2024-05-02T00:00:00", NEW_YORK), 3, NEW_YORK)
    assert got == ["2024-05-03 18:45:00 -0400", "2024-05-05 18:45:00 -0400",
                   "2024-05-07 18:45:00 -0400"]


def test_a_wall_time_skipped_by_dst_fires_after_the_change():
    rec = {"frequency": "Day", "interval": 1, "time_of_day": "02:30",
           "time_zone": "Europe/Berlin", "start_time": "2024-03-01T00:00:00"}
    got = fires(rec, at("2024-03-30T12:00:00", BERLIN), 2, BERLIN)
    assert got == ["2024-03-31 03:30:00 +0200", "2024-04-01 02:30:00 +0200"]


def test_several_hours_and_minutes_a_day():
    rec = {"frequency": "Day", "interval": 1, "hours": [14, 10], "minutes": [0, 30],
           "start_time": "2024-05-01T00:00:00"}
    got = fires(rec, at("2024-05-01T10:10:00"), 5)
    assert got == ["2024-05-01 10:30:00 +0000", "2024-05-01 14:00:00 +0000",
                   "2024-05-01 14:30:00 +0000", "2024-05-02 10:00:00 +0000",
                   "2024-05-02 10:30:00 +0000"]


def test_hours_without_minutes_are_on_the_hour():
    rec = {"frequency": "Day", "interval": 1, "hours": [10, 12],
           "start_time": "2024-05-01T08:17:00"}
    assert fires(rec, at("2024-05-01T09:00:00"), 2) == [
        "2024-05-01 10:00:00 +0000", "2024-05-01 12:00:00 +0000"]


def test_weekly_on_monday_and_thursday():
    rec = {"frequency": "Week", "interval": 1, "week_days": ["Thursday", "Monday"],
           "time_of_day": "09:05", "start_time": "2020-01-01T00:00:00",
           "time_zone": "Europe/Berlin"}
    got = fires(rec, at("2024-05-01T00:00:00", BERLIN), 4, BERLIN)
    assert got == ["2024-05-02 09:05:00 +0200", "2024-05-06 09:05:00 +0200",
                   "2024-05-09 09:05:00 +0200", "2024-05-13 09:05:00 +0200"]


def test_every_second_week_keeps_the_start_weeks():
    rec = {"frequency": "Week", "interval": 2, "start_time": "2024-01-03T08:00:00"}
    got = fires(rec, at("2024-02-01T00:00:00"), 3)
    assert got == ["2024-02-14 08:00:00 +0000", "2024-02-28 08:00:00 +0000",
                   "2024-03-13 08:00:00 +0000"]


def test_every_second_week_on_days_long_after_the_start():
    # 2021-01-04 is a Monday; the week of 2024-04-29 is the 173rd after it (odd: skipped).
    rec = {"frequency": "Week", "interval": 2, "week_days": ["Tuesday", "Friday"],
           "hours": [7], "start_time": "2021-01-04T00:00:00"}
    assert fires(rec, at("2024-05-01T00:00:00"), 5) == [
        "2024-05-07 07:00:00 +0000", "2024-05-10 07:00:00 +0000", "2024-05-21 07:00:00 +0000",
        "2024-05-24 07:00:00 +0000", "2024-06-04 07:00:00 +0000"]


def test_monthly_keeps_its_day_and_clamps_short_months():
    rec = {"frequency": "Month", "interval": 1, "start_time": "2024-01-31T10:00:00",
           "time_zone": "Europe/Berlin"}
    got = fires(rec, at("2024-01-01T00:00:00", BERLIN), 5, BERLIN)
    assert got == ["2024-01-31 10:00:00 +0100", "2024-02-29 10:00:00 +0100",
                   "2024-03-31 10:00:00 +0200", "2024-04-30 10:00:00 +0200",
                   "2024-05-31 10:00:00 +0200"]


def test_every_three_months_long_after_the_start():
    rec = {"frequency": "Month", "interval": 3, "start_time": "2000-02-15T00:00:00"}
    assert fires(rec, at("2024-06-01T00:00:00"), 2) == [
        "2024-08-15 00:00:00 +0000", "2024-11-15 00:00:00 +0000"]


def test_dense_rule_long_after_its_start_is_quick():
    rec = {"frequency": "Day", "interval": 1, "hours": list(range(24)),
           "minutes": list(range(60)), "start_time": "2000-01-01T00:00:00"}
    assert next_fire_time(rec, at("2024-05-01T12:34:56")) == at("2024-05-01T12:35:00")


# -- checks -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("recurrence", "argument"), [
    ({"frequency": "Fortnight", "interval": 1}, "frequency"),
    ({"frequency": "Hour", "interval": 0}, "interval"),
    ({"frequency": "Hour", "interval": 1.5}, "interval"),
    ({"frequency": "Hour", "interval": True}, "interval"),
    ({"frequency": "Hour", "interval": 1, "hours": [3]}, "hours"),
    ({"frequency": "Month", "interval": 1, "minutes": [3]}, "minutes"),
    ({"frequency": "Day", "interval": 1, "hours": [24]}, "hours"),
    ({"frequency": "Day", "interval": 1, "minutes": [-1]}, "minutes"),
    ({"frequency": "Day", "interval": 1, "week_days": ["Monday"]}, "week_days"),
    ({"frequency": "Week", "interval": 1, "week_days": ["Funday"]}, "week_days"),
    ({"frequency": "Day", "interval": 1, "time_of_day": "25:00"}, "time_of_day"),
    ({"frequency": "Hour", "interval": 1, "time_of_day": "06:00"}, "time_of_day"),
    ({"frequency": "Day", "interval": 1, "time_of_day": "06:00", "hours": [6]}, "time_of_day"),
    ({"frequency": "Day", "interval": 1, "start_time": "tomorrow"}, "start_time"),
    ({"frequency": "Day", "interval": 1, "time_zone": "Mars/Olympus"}, "time_zone"),
])
def test_bad_recurrence_names_the_argument(recurrence, argument):
    with pytest.raises(UserErrorException, match=argument):
        check_recurrence(recurrence)


def test_check_normalises():
    rec = check_recurrence({"frequency": "week", "interval": 2, "week_days": ["friday", "Monday"],
                            "hours": [9, 7, 9], "start_time": datetime(2024, 5, 1, 6, 0),
                            "time_zone": "Pacific Standard Time"})
    assert rec == {"frequency": "Week", "interval": 2, "start_time": "2024-05-01T06:00:00",
                   "time_zone": "America/Los_Angeles", "hours": [7, 9], "minutes": None,
                   "week_days": ["Monday", "Friday"], "time_of_day": None}
    assert describe(rec) == ("every 2 weeks on Monday, Friday at 07:00, 09:00 from "
                             "2024-05-01T06:00:00 (America/Los_Angeles)")


def test_zones():
    assert zone(None).key == "UTC"
    assert zone("UTC").key == "UTC"
    assert zone("Europe/Berlin").key == "Europe/Berlin"
    assert zone("GMT Standard Time").key == "Europe/London"
    assert zone("Eastern Standard Time").key == "America/New_York"
    assert zone("Central Europe Standard Time").key == "Europe/Budapest"
    with pytest.raises(UserErrorException, match="time_zone"):
        zone("Neverland Standard Time")
