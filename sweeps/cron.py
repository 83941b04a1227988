"""Crontab expressions read as crontab(5) reads them, turned into APScheduler 3 triggers.

APScheduler 3's ``CronTrigger.from_crontab`` numbers the day of week from 0 = Monday, so the classic
``0 3 * * 1-5`` would fire Tuesday to Saturday and ``*/2`` would pick other days than cron's. Here every
field is expanded to the exact set of values cron means, and the days of week are handed over as
names (``sun``, ``mon``, …), which both numberings agree on. crontab(5)'s day rule is kept too: when
day of month and day of week are both restricted (neither starts with ``*``), a day matches if
EITHER does, which one ``CronTrigger`` (it ANDs its fields) cannot say, so it is an ``OrTrigger`` of two.

An expression that can never fire (``0 3 31 2 *``) is refused up front: APScheduler would search for
that date for ever, and a schedule that silently never runs is worse than an error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from experiments.errors import BadInput

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron's numbering: 0 (and 7) is Sunday
DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February 29 exists in leap years
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
EXAMPLE = '"0 3 * * 1-5" (03:00 Monday to Friday)'


@dataclass(frozen=True)
class Field:
    """One of the five fields: its name, inclusive bounds and the names it accepts (value: index + low)."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()


FIELDS = (
    Field("minute", 0, 59),
    Field("hour", 0, 23),
    Field("day of month", 1, 31),
    Field("month", 1, 12, MONTHS),
    Field("day of week", 0, 7, DAYS),
)


def _value(token: str, field: Field) -> int:
    """One number or name of ``field``, checked against its bounds."""
    if token.lower() in field.names:
        return field.names.index(token.lower()) + field.low
    if not token.isdigit():
        raise ValueError(f"{field.name}: {token!r} is not a number" + (" or a name" if field.names else ""))
    value = int(token)
    if not field.low <= value <= field.high:
        raise ValueError(f"{field.name}: {value} is outside {field.low}-{field.high}")
    return value


def parse_field(text: str, field: Field) -> frozenset[int]:
    """The values ``text`` selects: ``*``, ``a``, ``a-b``, ``*/step``, ``a-b/step``, comma-separated.

    Raises:
      ValueError: a malformed part or a value out of range (the caller adds the expression).
    """
    values: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        if slash and not (step_text.isdigit() and int(step_text) >= 1):
            raise ValueError(f"{field.name}: step {step_text!r} in {part!r} is not a whole number >= 1")
        step = int(step_text) if slash else 1
        if base == "*":
            low, high = field.low, field.high
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = _value(first, field), _value(last, field)
            if low > high:
                raise ValueError(f"{field.name}: range {base!r} runs backwards")
        elif slash:  # Vixie cron reads "1/2" as 1, cronie and croniter as 1-high/2: say which
            hint = f"{base}-{field.high}/{step}"
            raise ValueError(f"{field.name}: {part!r} is ambiguous; write a range such as {hint!r}")
        else:
            low = high = _value(base, field)
        values.update(range(low, high + 1, step))
    return frozenset(values)


def _fires_on_some_date(days: frozenset[int], months: frozenset[int]) -> bool:
    """Whether any selected month has any selected day (February counting its leap-year 29th)."""
    return any(day <= DAYS_IN_MONTH[month - 1] for month in months for day in days)


def _spec(values, field: Field) -> str:
    """APScheduler's text for a value set: ``*`` for the whole range (readable logs), else a list."""
    if set(values) >= set(range(field.low, field.high + 1)):
        return "*"
    return ",".join(str(v) for v in sorted(values))


def cron_trigger(expr: str, timezone: dt.tzinfo | str | None = None) -> BaseTrigger:
    """The APScheduler trigger that fires exactly when crontab(5) would run ``expr``.

    Args:
      expr: five fields ``minute hour day-of-month month day-of-week`` (numbers, ``*``, ranges, lists,
        steps, names such as ``jan`` and ``mon``; 0 and 7 are Sunday) or a macro such as ``@daily``.
      timezone: the zone the fields are read in (``None``: APScheduler's default, the local zone).

    Returns:
      A ``CronTrigger``, or an ``OrTrigger`` of two when both day fields are restricted.

    Raises:
      BadInput: one line — a malformed expression, or one that never fires (no such date).
    """
    fields = MACROS.get(expr.strip().lower(), expr).split()
    if len(fields) != 5:
        raise BadInput(
            f"--cron {expr!r}: expected 5 fields (minute hour day-of-month month day-of-week), e.g. {EXAMPLE}"
        )
    try:
        minutes, hours, days, months, weekdays = (parse_field(t, f) for t, f in zip(fields, FIELDS))
    except ValueError as e:
        raise BadInput(f"--cron {expr!r}: {e}") from None
    weekdays = {d % 7 for d in weekdays}
    weekday_names = "*" if len(weekdays) == 7 else ",".join(DAYS[d] for d in sorted(weekdays))
    minute, hour, day, month = (_spec(v, f) for v, f in zip((minutes, hours, days, months), FIELDS[:4]))
    common = {"second": 0, "minute": minute, "hour": hour, "month": month}
    by_date = _fires_on_some_date(days, months)
    # crontab(5): a day field starting with "*" is unrestricted, and then the two day fields AND.
    if fields[2].startswith("*") or fields[4].startswith("*"):
        if not by_date:
            raise BadInput(f"--cron {expr!r}: this schedule never fires (no such date)")
        return CronTrigger(day=day, day_of_week=weekday_names, timezone=timezone, **common)
    by_weekday = CronTrigger(day_of_week=weekday_names, timezone=timezone, **common)
    if not by_date:  # the weekdays still fire; the impossible dates simply never match
        return by_weekday
    return OrTrigger([CronTrigger(day=day, timezone=timezone, **common), by_weekday])
