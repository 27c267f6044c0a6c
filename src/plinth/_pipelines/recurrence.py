"""When a recurring schedule fires: checking a recurrence and computing its next due time.

A recurrence is the dict that ``ScheduleRecurrence`` stores (``frequency``, ``interval``,
``start_time``, ``time_zone``, ``hours``, ``minutes``, ``week_days``, ``time_of_day``).
``Minute`` and ``Hour`` recurrences step in elapsed time from the start; ``Day``, ``Week``
and ``Month`` ones step in wall-clock time of their time zone, so "daily at 06:30 in
Europe/Berlin" fires at 06:30 local time on both sides of a daylight-saving change. A wall
time that does not exist that day (skipped by the clocks going forward) fires at the same
wall time after the change (02:30 -> 03:30); one that happens twice fires the first time.
A ``Month`` recurrence on the 29th-31st fires on the last day of shorter months.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule
from dateutil.relativedelta import relativedelta

from plinth.exceptions import ValidationError

__all__ = [
    "FREQUENCIES",
    "WEEK_DAYS",
    "WINDOWS_ZONES",
    "check_recurrence",
    "describe",
    "next_fire_time",
    "zone",
]

FREQUENCIES = ("Minute", "Hour", "Day", "Week", "Month")
WEEK_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

#: azureml's (Windows) time-zone names that Plinth knows, and the IANA zone each means.
WINDOWS_ZONES = {
    "UTC": "UTC",
    "Dateline Standard Time": "Etc/GMT+12",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Alaskan Standard Time": "America/Anchorage",
    "Pacific Standard Time": "America/Los_Angeles",
    "US Mountain Standard Time": "America/Phoenix",
    "Mountain Standard Time": "America/Denver",
    "Central Standard Time": "America/Chicago",
    "Eastern Standard Time": "America/New_York",
    "Atlantic Standard Time": "America/Halifax",
    "Newfoundland Standard Time": "America/St_Johns",
    "E. South America Standard Time": "America/Sao_Paulo",
    "Argentina Standard Time": "America/Buenos_Aires",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "W. Europe Standard Time": "Europe/Berlin",
    "Central Europe Standard Time": "Europe/Budapest",
    "Romance Standard Time": "Europe/Paris",
    "Central European Standard Time": "Europe/Warsaw",
    "GTB Standard Time": "Europe/Bucharest",
    "FLE Standard Time": "Europe/Kiev",
    "E. Europe Standard Time": "Europe/Chisinau",
    "Turkey Standard Time": "Europe/Istanbul",
    "Israel Standard Time": "Asia/Jerusalem",
    "South Africa Standard Time": "Africa/Johannesburg",
    "Russian Standard Time": "Europe/Moscow",
    "Arabian Standard Time": "Asia/Dubai",
    "India Standard Time": "Asia/Kolkata",
    "SE Asia Standard Time": "Asia/Bangkok",
    "China Standard Time": "Asia/Shanghai",
    "Singapore Standard Time": "Asia/Singapore",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Korea Standard Time": "Asia/Seoul",
    "W. Australia Standard Time": "Australia/Perth",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "New Zealand Standard Time": "Pacific/Auckland",
}

_ELAPSED_SECONDS = {"Minute": 60, "Hour": 3600}
_RRULE_FREQ = {"Day": rrule.DAILY, "Week": rrule.WEEKLY}
_PERIOD_DAYS = {"Day": 1, "Week": 7}
_SEARCH_BACK = timedelta(days=1)


# -- checking ----------------------------------------------------------------------------------


def zone(time_zone: Any) -> ZoneInfo:
    """The zone named by an IANA name (``Europe/Berlin``), an azureml Windows name (``Pacific
    Standard Time``) or a ``TimeZone`` member; UTC for None."""
    if time_zone is None:
        return ZoneInfo("UTC")
    name = getattr(time_zone, "value", time_zone)
    if isinstance(name, str):
        try:
            return ZoneInfo(WINDOWS_ZONES.get(name.strip(), name.strip()))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise ValidationError(
        f"time_zone={time_zone!r} is not a time zone Plinth knows: use an IANA name such as "
        "'Europe/Berlin' or 'UTC', or a TimeZone member such as "
        "TimeZone.PacificStandardTime."
    )


def check_recurrence(recurrence: Mapping[str, Any]) -> dict[str, Any]:
    """``recurrence`` checked and normalised (names capitalised, lists sorted, start_time as
    an ISO string, time_zone as an IANA name); ValidationError names the bad argument."""
    frequency = _frequency(recurrence.get("frequency"))
    interval = recurrence.get("interval")
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise ValidationError(f"interval={interval!r}: use a whole number of at least 1 "
                              f"(fire every `interval` {frequency.lower()}s).")
    time_zone = recurrence.get("time_zone")
    out: dict[str, Any] = {
        "frequency": frequency,
        "interval": interval,
        "start_time": _start_time(recurrence.get("start_time")),
        "time_zone": None if time_zone is None else zone(time_zone).key,
        "hours": _numbers(recurrence.get("hours"), "hours", 23, frequency),
        "minutes": _numbers(recurrence.get("minutes"), "minutes", 59, frequency),
        "week_days": _week_days(recurrence.get("week_days"), frequency),
        "time_of_day": _time_of_day(recurrence.get("time_of_day"), frequency),
    }
    if out["time_of_day"] and (out["hours"] or out["minutes"]):
        raise ValidationError("Pass either time_of_day or hours/minutes, not both.")
    return out


def _frequency(value: Any) -> str:
    for name in FREQUENCIES:
        if isinstance(value, str) and value.strip().lower() == name.lower():
            return name
    raise ValidationError(f"frequency={value!r}: use one of {', '.join(FREQUENCIES)}.")


def _start_time(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise ValidationError(
        f"start_time={value!r}: use a datetime or an ISO 8601 string such as "
        "'2024-05-01T06:30:00' (a time without an offset is in time_zone)."
    )


def _numbers(value: Any, name: str, top: int, frequency: str) -> list[int] | None:
    if value is None:
        return None
    if frequency not in _RRULE_FREQ:
        raise ValidationError(f"{name}={value!r}: {name} can only be given with frequency "
                              f"'Day' or 'Week', not {frequency!r}.")
    items = [value] if isinstance(value, int) else value
    if (not isinstance(items, (list, tuple, set)) or not items
            or any(isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= top
                   for v in items)):
        raise ValidationError(f"{name}={value!r}: use a list of whole numbers from 0 to {top}.")
    return sorted(set(items))


def _week_days(value: Any, frequency: str) -> list[str] | None:
    if value is None:
        return None
    if frequency != "Week":
        raise ValidationError(f"week_days={value!r}: week_days can only be given with "
                              f"frequency 'Week', not {frequency!r}.")
    items = [value] if isinstance(value, str) else value
    lower = {day.lower(): day for day in WEEK_DAYS}
    if (not isinstance(items, (list, tuple, set)) or not items
            or any(not isinstance(v, str) or v.strip().lower() not in lower for v in items)):
        raise ValidationError(f"week_days={value!r}: use a list of {', '.join(WEEK_DAYS)}.")
    chosen = {lower[v.strip().lower()] for v in items}
    return [day for day in WEEK_DAYS if day in chosen]


def _time_of_day(value: Any, frequency: str) -> str | None:
    if value is None or value == "":
        return None
    if frequency not in _RRULE_FREQ:
        raise ValidationError(f"time_of_day={value!r}: time_of_day can only be given with "
                              f"frequency 'Day' or 'Week', not {frequency!r}.")
    hour, sep, minute = str(value).strip().partition(":")
    if (sep and hour.isdigit() and minute.isdigit() and int(hour) <= 23
            and int(minute) <= 59):
        return f"{int(hour):02d}:{int(minute):02d}"
    raise ValidationError(f"time_of_day={value!r}: use 'HH:MM' (24-hour clock), e.g. '06:30'.")


def describe(recurrence: Mapping[str, Any]) -> str:
    """``every 15 minutes``, ``every 2 days at 06:30 (Europe/Berlin)``, ..."""
    interval, unit = recurrence["interval"], recurrence["frequency"].lower()
    text = f"every {unit}" if interval == 1 else f"every {interval} {unit}s"
    if recurrence.get("week_days"):
        text += " on " + ", ".join(recurrence["week_days"])
    times = _times_of_day(recurrence)
    if times:
        text += " at " + ", ".join(times)
    if recurrence.get("start_time"):
        text += f" from {recurrence['start_time']}"
    return text + f" ({recurrence.get('time_zone') or 'UTC'})"


def _times_of_day(recurrence: Mapping[str, Any]) -> list[str]:
    if recurrence.get("time_of_day"):
        return [recurrence["time_of_day"]]
    hours, minutes = recurrence.get("hours"), recurrence.get("minutes")
    if hours:
        return [f"{h:02d}:{m:02d}" for h in hours for m in (minutes or [0])]
    if minutes:
        return [f"minute {m}" for m in minutes]
    return []


# -- computing ---------------------------------------------------------------------------------


def next_fire_time(recurrence: Mapping[str, Any], after: float, *,
                   anchor: float | None = None) -> float:
    """The first due time (epoch seconds) strictly after ``after``.

    Fires are at ``start_time`` + k * ``interval`` units (k >= 0), or, with ``hours``,
    ``minutes``, ``time_of_day`` or ``week_days``, at those times of the days (weeks) that
    are whole intervals from the start. Without a ``start_time`` the start is ``anchor``
    (the schedule's creation time), or else ``after`` itself.
    """
    rec = check_recurrence(recurrence)
    tz = zone(rec["time_zone"])
    start = _start(rec["start_time"], tz, anchor if anchor is not None else after)
    if rec["frequency"] in _ELAPSED_SECONDS:
        return _next_elapsed(start.timestamp(), rec, after)
    if rec["frequency"] == "Month":
        return _next_month(start, rec["interval"], tz, after)
    return _next_by_rule(start, rec, tz, after)


def _start(start_time: str | None, tz: ZoneInfo, fallback: float) -> datetime:
    """The start as a wall time of ``tz``, without tzinfo."""
    if start_time is None:
        return datetime.fromtimestamp(fallback, tz).replace(tzinfo=None)
    value = datetime.fromisoformat(start_time)
    return value if value.tzinfo is None else value.astimezone(tz).replace(tzinfo=None)


def _epoch(wall: datetime, tz: ZoneInfo) -> float:
    return wall.replace(tzinfo=tz).timestamp()


def _next_elapsed(start: float, rec: Mapping[str, Any], after: float) -> float:
    period = rec["interval"] * _ELAPSED_SECONDS[rec["frequency"]]
    if after < start:
        return start
    steps = math.floor((after - start) / period) + 1
    fire = start + steps * period
    return fire if fire > after else fire + period


def _next_month(start: datetime, interval: int, tz: ZoneInfo, after: float) -> float:
    wall_after = datetime.fromtimestamp(after, tz).replace(tzinfo=None)
    months = (wall_after.year - start.year) * 12 + wall_after.month - start.month
    step = max(months // interval - 1, 0)
    while True:
        fire = _epoch(start + relativedelta(months=step * interval), tz)
        if fire > after:
            return fire
        step += 1


def _next_by_rule(start: datetime, rec: Mapping[str, Any], tz: ZoneInfo,
                  after: float) -> float:
    wall_after = datetime.fromtimestamp(after, tz).replace(tzinfo=None)
    rule = _rule(_shifted_start(start, rec, wall_after), rec)
    for wall in rule.xafter(wall_after - _SEARCH_BACK, inc=True):
        fire = _epoch(wall, tz)
        if fire > after:
            return fire
    raise AssertionError("an unbounded rule always has a next occurrence")


def _shifted_start(start: datetime, rec: Mapping[str, Any], wall_after: datetime) -> datetime:
    """``start`` moved forward by whole intervals to shortly before ``wall_after``, so the
    rule need not be walked from a start long ago; the fires from there on are the same."""
    period = rec["interval"] * _PERIOD_DAYS[rec["frequency"]]
    periods = (wall_after - _SEARCH_BACK - start).days // period - 1
    return start + timedelta(days=periods * period) if periods > 0 else start


def _rule(start: datetime, rec: Mapping[str, Any]) -> rrule.rrule:
    options: dict[str, Any] = {"dtstart": start, "interval": rec["interval"]}
    if rec["time_of_day"]:
        hour, minute = rec["time_of_day"].split(":")
        options.update(byhour=int(hour), byminute=int(minute), bysecond=0)
    elif rec["hours"] or rec["minutes"]:
        options.update(byhour=rec["hours"] or start.hour,
                       byminute=rec["minutes"] if rec["minutes"] is not None else 0,
                       bysecond=0)
    if rec["week_days"]:
        options["byweekday"] = [WEEK_DAYS.index(day) for day in rec["week_days"]]
    return rrule.rrule(_RRULE_FREQ[rec["frequency"]], **options)
