"""`label-issues`: images whose given label the data itself doubts (confident learning)."""

from __future__ import annotations


def register(commands) -> None:
    """Add the label-issues command (built in issue 27)."""
