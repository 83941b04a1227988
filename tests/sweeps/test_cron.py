"""``cron_trigger`` fires when crontab(5) would: checked against croniter, an independent implementation."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from experiments.errors import BadInput
from sweeps.cron import cron_trigger

START = dt.datetime(2025, 12, 31, 23, 59, 30, tzinfo=dt.UTC)  # second 30: never a fire time itself
N_FIRES = 10

EXPRESSIONS = [
    "0 3 * * 1-5",  # Monday to Friday (APScheduler's from_crontab: Tuesday to Saturday)
    "0 3 * * 0",  # Sunday
    "0 3 * * 7",  # Sunday too
    "0 3 * * 5-7",  # Friday, Saturday, Sunday
    "0 0 * * 6,7",
    "0 0 * * */2",  # cron's 0,2,4,6: Sunday, Tuesday, Thursday, Saturday
    "0 22 * * 1-7/2",  # Monday, Wednesday, Friday, Sunday
    "*/15 * * * *",
    "5,35 8-18/5 * * mon-fri",
    "0 0 1,15 * 1",  # both day fields restricted: the 1st, the 15th OR any Monday
    "0 0 13 * fri",  # every 13th and every Friday
    "0 0 1-7 * 1",
    "0 0 29 2 *",  # leap days only
    "0 0 31 * *",  # only the months that have a 31st
    "0 0 31 2 mon",  # no February 31st, but its Mondays still fire
    "30 2 * * sun",
    "0 9 * jan mon",
    "0 6 * JAN-MAR SUN",
    "15 4 1 */3 *",
    "59 23 31 12 *",
    "@weekly",
    "@hourly",
]


def apscheduler_fires(trigger, start: dt.datetime, n: int) -> list[dt.datetime]:
    """The first ``n`` fire times as APScheduler's scheduler chains them from ``start``."""
    fires, previous, now = [], None, start
    for _ in range(n):
        fire = trigger.get_next_fire_time(previous, now)
        fires.append(fire)
        previous = now = fire
    return fires


def croniter_fires(expr: str, start: dt.datetime, n: int) -> list[dt.datetime]:
    it = croniter(expr, start)
    return [it.get_next(dt.datetime) for _ in range(n)]


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_fire_times_agree_with_croniter(expr):
    trigger = cron_trigger(expr, timezone=dt.UTC)
    assert apscheduler_fires(trigger, START, N_FIRES) == croniter_fires(expr, START, N_FIRES)


def test_weekdays_are_monday_to_friday():
    fires = apscheduler_fires(cron_trigger("0 3 * * 1-5", timezone=dt.UTC), START, 20)
    assert {f.strftime("%a") for f in fires} == {"Mon", "Tue", "Wed", "Thu", "Fri"}


def test_a_day_field_starting_with_star_ands_with_the_other():
    # crontab(5): the OR rule needs both day fields restricted; "*/2" is not (croniter ORs here).
    fires = apscheduler_fires(cron_trigger("0 0 */2 * 1", timezone=dt.UTC), START, 10)
    assert all(f.day % 2 == 1 and f.weekday() == 0 for f in fires)


def test_fields_are_read_in_the_given_timezone():
    berlin = ZoneInfo("Europe/Berlin")
    start = START.astimezone(berlin)
    trigger = cron_trigger("0 3 * * 1-5", timezone=berlin)
    assert apscheduler_fires(trigger, start, 5) == croniter_fires("0 3 * * 1-5", start, 5)
    assert apscheduler_fires(trigger, start, 1)[0].astimezone(dt.UTC).hour == 2  # CET is UTC+1


@pytest.mark.parametrize("expr", ["0 3 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30,31 2 */2"])
def test_a_date_that_never_occurs_is_refused(expr):
    with pytest.raises(BadInput, match="never fires") as e:
        cron_trigger(expr)
    assert str(e.value) == f"--cron {expr!r}: this schedule never fires (no such date)"


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ("0 3 * *", "expected 5 fields"),
        ("0 3 * * * *", "expected 5 fields"),
        ("", "expected 5 fields"),
        ("@reboot", "expected 5 fields"),
        ("60 * * * *", "minute: 60 is outside 0-59"),
        ("0 24 * * *", "hour: 24 is outside 0-23"),
        ("0 0 0 * *", "day of month: 0 is outside 1-31"),
        ("0 0 * 13 *", "month: 13 is outside 1-12"),
        ("0 0 * * 8", "day of week: 8 is outside 0-7"),
        ("*/0 * * * *", "step '0'"),
        ("5-1 * * * *", "runs backwards"),
        ("0 22 * * 1/2", "ambiguous; write a range such as '1-7/2'"),
        ("x * * * *", "'x' is not a number"),
        ("0 0 * * fun", "'fun' is not a number or a name"),
        ("0 0 1,,2 * *", "is not a number"),
        ("0 0 L * *", "is not a number"),
    ],
)
def test_a_malformed_expression_is_one_line(expr, says):
    with pytest.raises(BadInput, match=says) as e:
        cron_trigger(expr)
    assert "\n" not in str(e.value) and str(e.value).startswith(f"--cron {expr!r}:")
