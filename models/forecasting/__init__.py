"""The stock forecaster: an LSTM/GRU over a window of daily bars with attention over its days.

- ``forecast_net``: the network and the features it reads from a window;
- ``forecaster``: a loaded checkpoint served as one model (bars in; a median price path, an
  interval and the attention over the window out);
- ``calendar`` (+ ``calendars.json``): exchanges' trading sessions, which date a forecast.
"""
