"""Write examples/prices.csv: 100 synthetic daily bars in Yahoo's CSV format, on XNYS sessions.

    .venv/bin/python examples/make_prices_csv.py

A seeded random walk (1.5% daily volatility) with open/high/low around each close, so the
upload example needs no market data in the repository (real prices live in ../shared/data).
"""

from pathlib import Path

import numpy as np

from models.forecasting.calendar import get_calendar

rng = np.random.default_rng(2020)
days = get_calendar("XNYS").sessions("2020-07-23", "2020-12-31")[:100]
close = 100 * np.exp(np.cumsum(rng.normal(0, 0.015, len(days))))
opens = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0, 0.005, len(days)))
high = np.maximum(opens, close) * np.exp(np.abs(rng.normal(0, 0.008, len(days))))
low = np.minimum(opens, close) * np.exp(-np.abs(rng.normal(0, 0.008, len(days))))
volume = rng.integers(50_000_000, 200_000_000, len(days))
lines = ["Date,Open,High,Low,Close,Adj Close,Volume"] + [
    f"{d},{o:.4f},{h:.4f},{lo:.4f},{c:.4f},{c:.4f},{v}"
    for d, o, h, lo, c, v in zip(days, opens, high, low, close, volume)
]
(Path(__file__).parent / "prices.csv").write_text("\n".join(lines) + "\n")
