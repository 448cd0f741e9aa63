"""The backtest's calendar check: is the row h days after each origin the exchange's h-th session
after it, as ``models.forecasting.calendar`` (the calendar the API dates forecasts with) says?

The backtest steps through rows of the price file, so its "h days ahead" is the h-th row after
the origin. That is the API's h-th forecast date only where the file holds every session and
no other day; a file that lacks a session or has a row on a day the exchange was closed shifts
the rows after it. ``CalendarCheck`` counts, per horizon, the origins whose h-th row is not the
h-th session, and says why (rows on closed days, sessions without a row).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.forecasting.calendar import OutsideCalendar, TradingCalendar

SHOWN = 3  # examples named in the phrase


@dataclass
class CalendarCheck:
    """What the check found over the tickers given to ``add``: ``off`` {h: origins whose h-th row
    is not the h-th session after the origin}, the first few of them (``examples``), the rows
    on closed days (``strays``) and the sessions without a row (``gaps``) in the scored ranges,
    and the tickers whose dates the calendar does not cover (``unchecked``)."""

    calendar: TradingCalendar
    horizons: list[int]
    origins: int = 0
    off: dict[int, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    strays: int = 0
    gaps: int = 0
    unchecked: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.off = {h: 0 for h in self.horizons}

    def add(self, ticker: str, dates: list[str], origins: np.ndarray) -> None:
        """Check one ticker: ``dates`` ISO dates of its rows (T,), oldest first; ``origins``
        indices (N,) of the last row each forecast sees, each with max(horizons) rows after it."""
        days = np.array(dates, dtype="datetime64[D]")
        most = max(self.horizons)
        try:
            expected = np.stack([self.calendar.sessions_after(days[t], most) for t in origins])  # (N, H)
            scored = self.calendar.sessions(days[origins[0]], days[origins[-1] + most])
        except OutsideCalendar:
            self.unchecked.append(ticker)
            return
        rows = days[origins[:, None] + np.arange(1, most + 1)]  # (N, H): the h-th row after each origin
        self.origins += len(origins)
        for h in self.horizons:
            wrong = np.flatnonzero(rows[:, h - 1] != expected[:, h - 1])
            self.off[h] += len(wrong)
            self.examples += [
                f"{ticker} {days[origins[i]]} h={h}: row {rows[i, h - 1]}, session {expected[i, h - 1]}"
                for i in wrong[: SHOWN - len(self.examples)]
            ]
        in_range = days[origins[0] : origins[-1] + most + 1]
        self.strays += len(np.setdiff1d(in_range, scored))
        self.gaps += len(np.setdiff1d(scored, in_range))

    def phrase(self) -> str:
        """One sentence for the backtest's header."""
        name = self.calendar.name
        at = ", ".join(f"{self.off[h]:,} at h = {h}" for h in self.horizons)
        if not any(self.off.values()):
            text = (
                f"calendar check: the h-th row after each of the {self.origins:,} origins is the h-th {name} "
                f"session after it ({at})"
            )
        else:
            text = (
                f"calendar check: origins whose h-th row is not the h-th {name} session after it: {at}, of "
                f"{self.origins:,} (e.g. {'; '.join(self.examples)}); in the scored ranges the data has "
                f"{'1 row on a day' if self.strays == 1 else f'{self.strays:,} rows on days'} {name} was closed and "
                f"lacks {self.gaps:,} of its sessions"
            )
        if self.unchecked:
            text += (
                f"; not checked: {', '.join(self.unchecked[:SHOWN])}{', ...' if len(self.unchecked) > SHOWN else ''} "
                f"(dates outside {name}'s {self.calendar.first} to {self.calendar.last})"
            )
        return text

    def summary(self) -> dict:
        return {
            "calendar": self.calendar.name,
            "origins": self.origins,
            **{f"off_h{h}": n for h, n in self.off.items()},
            "strays": self.strays,
            "gaps": self.gaps,
            "unchecked": len(self.unchecked),
        }
