"""Daily price files as uploaded to ``POST /forecast/csv``: the reader training uses too
(``models.forecasting.price_file``), strict (a figure that is not one is an error naming its
line) and sending the model only the newest ``keep`` rows."""

from __future__ import annotations

from models.forecasting.price_file import PriceFileError, PriceTable, read_price_csv

__all__ = ["PriceFileError", "PriceTable", "read_price_csv"]
