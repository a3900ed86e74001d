"""Synthetic multi-platform retail data with planted truth.

Public functions:
    generate: write raw platform exports and ``truth/`` for N persons.
    Planted: the parameters planted in the data (RC per category, uplift, ...).
"""

from workbench.synth.generate import SynthResult, generate
from workbench.synth.world import Planted

__all__ = ["Planted", "SynthResult", "generate"]
