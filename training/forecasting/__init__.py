"""Training and evaluating the forecaster. Commands (``python -m training.forecasting.<name>``):

- ``train``: fit the forecaster on daily bars and write its checkpoint (calibrated intervals);
- ``backtest``: walk-forward scores on held-out tickers beside naive, drift and GARCH(1,1)-t;
- ``calendars``: write the trading calendars the API serves (models/forecasting/calendars.json).

The rest serves them: ``prices`` (price files, splits, windows), ``garch`` (the GARCH baseline),
``forecast_scores`` (point and interval scores), ``forecast_csv`` (forecast files),
``calendar_check`` (the backtest's session check).
"""
