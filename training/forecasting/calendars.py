"""Write models/forecasting/calendars.json: the trading sessions of major exchanges, from the maintained
exchange-calendars package, as the numpy-only calendars the API reads (models.forecasting.calendar).

    python -m training.forecasting.calendars                       # the shipped file
    python -m training.forecasting.calendars --codes XNYS,XLON --start 2000-01-01 --out work/calendars.json

Per exchange: its weekmask, the covered range (--start to --end, cut to what exchange-calendars
supports for it) and every weekmask day in that range without a session (holidays, unscheduled
closures the package knows). Dates after the day the file is written are the package's rules:
a closure announced later (a national day of mourning) is not in it; rerun after upgrading the
package. A calendar with a session the weekmask has no room for (a weekend session) is refused.
A code the package treats as another's alias (XNAS: the NYSE calendar) is written as an alias.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from models.forecasting.calendar import CALENDARS_FILE, DEFAULT_CALENDAR, TradingCalendar
from training.cli import parser

EXCHANGES = {
    "XNYS": "New York Stock Exchange",
    "XNAS": "Nasdaq",
    "XLON": "London Stock Exchange",
    "XPAR": "Euronext Paris",
    "XAMS": "Euronext Amsterdam",
    "XETR": "Xetra (Deutsche Boerse)",
    "XSWX": "SIX Swiss Exchange",
    "XTKS": "Tokyo Stock Exchange",
    "XHKG": "Hong Kong Exchanges",
    "XTSE": "Toronto Stock Exchange",
    "XASX": "Australian Securities Exchange",
}


def covered_range(calendar_class, start: str, end: str) -> tuple[np.datetime64, np.datetime64]:
    """--start..--end cut to the dates exchange-calendars supports for the calendar."""
    first, last = np.datetime64(start, "D"), np.datetime64(end, "D")
    lo, hi = calendar_class.bound_min(), calendar_class.bound_max()
    if lo is not None:
        first = max(first, np.datetime64(lo.date(), "D"))
    if hi is not None:
        last = min(last, np.datetime64(hi.date(), "D"))
    if first > last:
        raise ValueError(f"{calendar_class.name}: exchange-calendars covers nothing of {start} to {end}")
    return first, last


def package_calendar(code: str, start: str | None = None, end: str | None = None):
    """exchange-calendars' calendar ``code`` (its pandas 3 deprecation notice silenced)."""
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        return xcals.get_calendar(code, start=start, end=end)


def entry(code: str, start: str, end: str) -> dict:
    """The JSON entry of one calendar; raises ValueError when a weekmask and closed days cannot
    give exactly the package's sessions."""
    first, last = covered_range(type(package_calendar(code)), start, end)
    source = package_calendar(code, str(first), str(last))
    sessions = source.sessions.values.astype("datetime64[D]")
    weekmask = str(source.weekmask)
    days = np.arange(first, last + np.timedelta64(1, "D"), dtype="datetime64[D]")
    weekdays = days[np.is_busday(days, weekmask=weekmask)]
    extra = np.setdiff1d(sessions, weekdays)
    if len(extra):
        raise ValueError(f"{code}: sessions outside its weekmask {weekmask} (e.g. {extra[0]}); not expressible")
    closed = np.setdiff1d(weekdays, sessions)
    rebuilt = TradingCalendar(code, weekmask, closed, first, last).sessions(first, last)
    if not np.array_equal(rebuilt, sessions):
        raise ValueError(f"{code}: the weekmask and closed days do not rebuild its sessions")
    return {
        "exchange": EXCHANGES.get(code, source.name),
        "weekmask": weekmask,
        "first": str(first),
        "last": str(last),
        "sessions": int(len(sessions)),
        "closed": [str(d) for d in closed],
    }


def build(codes: list[str], start: str, end: str) -> dict:
    """The whole file: calendars, aliases, and where they came from."""
    import exchange_calendars as xcals

    calendars: dict[str, dict] = {}
    aliases: dict[str, str] = {}
    for code in codes:
        target = xcals.resolve_alias(code)
        if target != code and target in codes:
            aliases[code] = target
        else:
            calendars[code] = entry(code, start, end)
    return {
        "about": "Trading calendars served by the API (models/forecasting/calendar.py): per exchange code "
        "(ISO 10383 MIC) "
        "its weekmask (Monday first), the dates it covers, and every weekmask day in them without a session. "
        "Dates after the file was written follow the package's rules: closures announced later are not in it.",
        "source": f"exchange-calendars {xcals.__version__}",
        "command": "python -m training.forecasting.calendars",
        "requested_range": [start, end],
        "default": DEFAULT_CALENDAR,
        "aliases": aliases,
        "calendars": calendars,
    }


def parse_args(argv=None) -> argparse.Namespace:
    p = parser("training.forecasting.calendars", __doc__)
    p.add_argument("--codes", default=",".join(EXCHANGES), help="comma-separated exchange codes (MICs)")
    p.add_argument("--start", default="1990-01-01", help="first date to cover (ISO)")
    p.add_argument("--end", default="2035-12-31", help="last date to cover (ISO)")
    p.add_argument("--out", help="the JSON file to write; without it, the package's models/forecasting/calendars.json")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    codes = [c.strip() for c in args.codes.split(",") if c.strip()]
    data = build(codes, args.start, args.end)
    out = Path(args.out) if args.out else CALENDARS_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    for code, cal in data["calendars"].items():
        print(f"{code}: {cal['first']} to {cal['last']}, {cal['sessions']:,} sessions, {len(cal['closed'])} closed")
    for alias, target in data["aliases"].items():
        print(f"{alias}: the {target} calendar")
    print(f"wrote {out}")
    return data


def main(argv=None) -> dict:
    try:
        return run(parse_args(argv))
    except (ValueError, KeyError, OSError, ImportError) as error:
        raise SystemExit(f"training.forecasting.calendars: {error}") from None


if __name__ == "__main__":
    main()
