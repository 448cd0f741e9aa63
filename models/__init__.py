"""What training/ and app/ share: the networks, their decoding, and the checkpoint format.

- ``translation/``: the attention Seq2Seq translator;
- ``forecasting/``: the attention stock forecaster and the trading calendars;
- ``checkpoint``: checkpoint folders (config.json + model.safetensors + card + manifest).

Imports only torch, sentencepiece, safetensors and numpy.
"""
