"""The backtest's interval score, and peer forecasts scored on the backtest's own origins."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from conftest import untrained_forecaster_files

from training.forecasting.forecast_scores import interval_score


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    """(price CSV of T0, T1, checkpoint of an untrained tiny network)."""
    return untrained_forecaster_files(tmp_path_factory.mktemp("bt"), 2, [])


def test_interval_score_is_lowest_for_the_true_quantiles():
    """A proper score: over symmetric intervals -c..c around standard normal outcomes, the mean
    score at level p is smallest where c is the normal's (1 + p) / 2 quantile."""
    y = np.random.default_rng(0).normal(size=200_000)
    grid = np.linspace(0.5, 2.5, 201)
    for level, z in ((0.8, 1.2816), (0.9, 1.6449)):
        means = [interval_score(np.full_like(y, -c), np.full_like(y, c), y, level).mean() for c in grid]
        assert abs(grid[int(np.argmin(means))] - z) < 0.03, level


def backtest(data, checkpoint, tmp_path, *extra) -> dict:
    from training.forecasting.backtest import main

    args = ["--checkpoint", str(checkpoint), "--data", str(data), "--last-days", "30", "--horizons", "1,3"]
    return main([*args, "--csv", str(tmp_path / "rows.csv"), "--tickers", "T0,T1", *extra])


def test_written_forecasts_scored_as_a_peer_score_the_same(untrained, tmp_path, capsys):
    data, checkpoint = untrained
    written, origins = tmp_path / "fc.csv", tmp_path / "origins.csv"
    backtest(data, checkpoint, tmp_path, "--write-forecasts", str(written), "--write-origins", str(origins))
    with open(written, newline="") as handle:
        rows = list(csv.DictReader(handle))
    with open(origins, newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 2 * 30
    assert len(rows) == 2 * 2 * 2 * 30  # methods x tickers x horizons x origins
    peer = tmp_path / "peer.csv"
    with open(peer, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, "method": "copy"} for r in rows if r["method"] == "model")
    summary = backtest(data, checkpoint, tmp_path, "--peers", str(peer))
    for h in (1, 3):
        assert summary[f"copy_h{h}"] == summary[f"model_h{h}"]
        assert summary[f"garch_h{h}"]["score_ratio_80"] == 1.0
        assert 0 < summary[f"model_h{h}"]["score_90"] and "score_80" not in summary[f"naive_h{h}"]
    assert "| 3 | copy |" in capsys.readouterr().out


def test_a_peer_missing_an_origin_is_an_error_naming_it(untrained, tmp_path):
    data, checkpoint = untrained
    written = tmp_path / "fc.csv"
    backtest(data, checkpoint, tmp_path, "--write-forecasts", str(written))
    with open(written, newline="") as handle:
        rows = [{**r, "method": "peer"} for r in csv.DictReader(handle) if r["method"] == "garch"]
    dropped = next(r for r in rows if r["ticker"] == "T1" and r["h"] == "3")
    peer = tmp_path / "peer.csv"
    with open(peer, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(r for r in rows if r is not dropped)
    with pytest.raises(SystemExit, match=f"peer T1 h=3: 1 origins \\({dropped['origin_date']}"):
        backtest(data, checkpoint, tmp_path, "--peers", str(peer))


def sessions_csv(path, drop: str, add: str) -> list[str]:
    """Kaggle-format random walks of T0, T1, T2 on the last 140 XNYS sessions to 2015-07-31: T0 on
    every session, T1 without the session ``drop``, T2 with one more row on ``add``, a day New
    York was closed. -> T0's dates."""
    from models.forecasting.calendar import get_calendar

    days = [str(d) for d in get_calendar("XNYS").sessions("2014-06-01", "2015-07-31")[-140:]]
    calendars = {"T0": days, "T1": [d for d in days if d != drop], "T2": sorted([*days, add])}
    rng = np.random.default_rng(1)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["date", "open", "high", "low", "close", "volume", "Name"])
        for name, dates in calendars.items():
            close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, len(dates))))
            writer.writerows([d, c, c, c, c, 1000, name] for d, c in zip(dates, close))
    return days


def test_the_calendar_check_counts_origins_whose_rows_are_not_the_sessions(untrained, tmp_path, capsys):
    """A missing session shifts the rows after it by one, a row on a closed day by one the other
    way: each puts the h-th row off for the h origins just before it, and nothing else."""
    _, checkpoint = untrained
    data = tmp_path / "sessions.csv"
    days = sessions_csv(data, drop="2015-07-15", add="2015-07-03")  # 2015-07-03: Independence Day observed
    assert "2015-07-03" not in days and "2015-07-15" in days

    def check(tickers: str) -> dict:
        from training.forecasting.backtest import main

        args = ["--checkpoint", str(checkpoint), "--data", str(data), "--last-days", "30", "--horizons", "1,3"]
        return main([*args, "--tickers", tickers, "--csv", str(tmp_path / "rows.csv")])["calendar_check"]

    clean = check("T0")
    assert clean["origins"] == 30 and clean["off_h1"] == clean["off_h3"] == 0
    out = capsys.readouterr().out
    assert "calendar check: the h-th row after each of the 30 origins is the h-th XNYS session" in out
    for ticker, strays, gaps in (("T1", 0, 1), ("T2", 1, 0)):
        found = check(ticker)
        assert (found["off_h1"], found["off_h3"], found["strays"], found["gaps"]) == (1, 3, strays, gaps), ticker
    both = check("T0,T1,T2")
    assert (both["origins"], both["off_h1"], both["off_h3"]) == (90, 2, 6)
    header = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Walk-forward")][-1]
    assert "origins whose h-th row is not the h-th XNYS session after it: 2 at h = 1, 6 at h = 3, of 90" in header
    assert "T1 2015-07-14 h=1: row 2015-07-16, session 2015-07-15" in header
    assert "the data has 1 row on a day XNYS was closed and lacks 1 of its sessions" in header
