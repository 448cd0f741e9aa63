"""The argument parser every ``python -m`` command shares.

Its program name is the command a user types (``python -m training.forecasting.backtest``, not
``backtest.py``), the module docstring is the description with its line breaks kept (usage
examples stay one command per line), and each option's help ends with its default unless the
default is None, False or suppressed (those say nothing, or the help says what happens).
"""

from __future__ import annotations

import argparse


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Raw description, ``(default: X)`` appended to every option whose default means something."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of ``python -m <module>``, described by its docstring ``doc``."""
    return argparse.ArgumentParser(prog=f"python -m {module}", description=doc, formatter_class=HelpFormatter)
