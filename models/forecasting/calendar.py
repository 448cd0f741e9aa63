"""Trading calendars: which days an exchange trades, so a forecast's H steps get real dates.

One calendar is a weekmask (``"1111100"``: Monday to Friday) plus the weekdays the exchange was
(or is scheduled to be) closed, over a covered range of dates. The calendars served ship as
``models/forecasting/calendars.json``, written by ``python -m training.forecasting.calendars`` from the maintained
``exchange-calendars`` package; reading them needs numpy only (the API never imports that
package). Outside its covered range a calendar does not know the holidays, so it refuses to
date sessions there rather than guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np

CALENDARS_FILE = Path(__file__).with_name("calendars.json")
DEFAULT_CALENDAR = "XNYS"

Day = date | np.datetime64 | str


def as_day(value: Day) -> np.datetime64:
    """A date, datetime64 or ISO string as datetime64[D]."""
    if isinstance(value, np.datetime64):
        return np.datetime64(value.astype("datetime64[D]").item(), "D")
    return np.datetime64(value, "D")


class OutsideCalendar(ValueError):
    """Sessions asked for outside the dates a calendar covers (its holidays are unknown there)."""


@dataclass(frozen=True)
class TradingCalendar:
    """``name``: the exchange code (ISO 10383 MIC, e.g. ``XNYS``); ``holidays``: datetime64[D]
    (K,), sorted, the weekmask days without a session; ``first``..``last``: the covered dates."""

    name: str
    weekmask: str
    holidays: np.ndarray
    first: np.datetime64
    last: np.datetime64
    exchange: str = ""
    _days: np.busdaycalendar = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_days", np.busdaycalendar(weekmask=self.weekmask, holidays=self.holidays))

    def sessions_after(self, last: Day, n: int) -> np.ndarray:
        """The ``n`` sessions after the day ``last`` (a non-session day counts from the session
        before it): datetime64[D], shape (n,). Raises ``OutsideCalendar`` when any of them would
        fall outside ``first``..``last``, naming the covered range."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        start = as_day(last)
        days: np.ndarray = np.busday_offset(start, np.arange(1, n + 1), roll="backward", busdaycal=self._days)
        if days[0] < self.first or days[-1] > self.last:
            raise OutsideCalendar(
                f"{self.name} covers {self.first} to {self.last}: the {n} sessions after {start} would "
                f"run from {days[0]} to {days[-1]}, "
                + (f"past its last covered date {self.last}" if days[-1] > self.last else "before its first date")
            )
        return days

    def sessions(self, start: Day, end: Day) -> np.ndarray:
        """Every session from ``start`` to ``end`` inclusive: datetime64[D], (K,). Raises
        ``OutsideCalendar`` for a range outside the covered dates."""
        lo, hi = as_day(start), as_day(end)
        if lo < self.first or hi > self.last:
            raise OutsideCalendar(f"{self.name} covers {self.first} to {self.last}, not {lo} to {hi}")
        days = np.arange(lo, hi + np.timedelta64(1, "D"), dtype="datetime64[D]")
        sessions: np.ndarray = days[np.is_busday(days, busdaycal=self._days)]
        return sessions


def _calendar(name: str, entry: dict[str, object]) -> TradingCalendar:
    closed = entry["closed"]
    if not isinstance(closed, list):
        raise ValueError(f"{name}: 'closed' must be a list of ISO dates")
    return TradingCalendar(
        name=name,
        weekmask=str(entry["weekmask"]),
        holidays=np.array(sorted(closed), dtype="datetime64[D]"),
        first=np.datetime64(str(entry["first"]), "D"),
        last=np.datetime64(str(entry["last"]), "D"),
        exchange=str(entry.get("exchange", "")),
    )


def load_calendars(path: str | Path = CALENDARS_FILE) -> dict[str, TradingCalendar]:
    """{code: calendar} for every calendar in the file, aliases included (``XNAS`` -> the
    ``XNYS`` calendar when the file says they share their sessions)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    calendars = {name: _calendar(name, entry) for name, entry in data["calendars"].items()}
    for alias, target in data.get("aliases", {}).items():
        calendars[alias] = calendars[target]
    return calendars


@lru_cache(maxsize=1)
def served_calendars() -> dict[str, TradingCalendar]:
    """The shipped calendars (read once)."""
    return load_calendars()


def get_calendar(code: str) -> TradingCalendar:
    """The shipped calendar ``code``; ``KeyError`` listing the codes served for any other."""
    calendars = served_calendars()
    if code not in calendars:
        raise KeyError(f"{code!r} is not served; calendars served: {', '.join(sorted(calendars))}")
    return calendars[code]
