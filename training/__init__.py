"""Fitting and judging both models; imports ``models``, never ``app``.

- ``translation/``: the translator's commands and data;
- ``forecasting/``: the forecaster's commands and data;
- shared by both: ``loop`` (the training loop), ``state`` (resumable state without pickle),
  ``distributed`` (torchrun/DDP), ``common`` (device, precision, seeds, logging), ``cli`` (the
  parser every command uses), ``losses``, ``card`` (model cards from config.json).
"""
