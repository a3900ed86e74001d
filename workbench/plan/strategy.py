"""The phase strategy table: for each target group, the strategy and the play of each phase.

Defaults come from a strategy library kept as data (``strategy.toml`` beside this
module: DOMAIN's defaults by segment, in Chinese and English). An analyst edits
a copy and gives it to the plan; the plan stores the rows it used.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.plan.editions import PHASES, Edition

LIBRARY = Path(__file__).with_name("strategy.toml")
FIELDS: tuple[str, ...] = ("strategy", "channel", "resources", *PHASES)
LANGS: tuple[str, ...] = ("zh", "en")


@dataclass(frozen=True)
class Group:
    """One target group of the library: the tiers it covers and its text per field."""

    key: str
    tiers: tuple[str, ...]
    text: dict[str, dict[str, str]]  # field -> lang -> text


def load_library(path: str | Path | None = None) -> list[Group]:
    """The strategy library (the one shipped with the package by default).

    Raises:
        ValueError: the file is not valid TOML, or a group lacks a key, its tiers or
            a field's text; the message names the file and the group.
    """
    file = Path(path) if path else LIBRARY
    try:
        doc = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"strategy library {file}: {exc}") from None
    groups = []
    for i, g in enumerate(doc.get("group", []), start=1):
        key = g.get("key")
        tiers = g.get("tiers")
        if not key or not isinstance(tiers, list) or not tiers:
            raise ValueError(f"strategy library {file}: group {i} needs a key and its tiers")
        text: dict[str, dict[str, str]] = {}
        for f in FIELDS:
            value = g.get(f, "")
            if isinstance(value, str):
                value = {lang: value for lang in LANGS}
            if not isinstance(value, dict):
                raise ValueError(f"strategy library {file}: group {key}: {f} is not text")
            text[f] = {lang: str(value.get(lang, value.get("zh", ""))) for lang in LANGS}
        groups.append(Group(str(key), tuple(str(t) for t in tiers), text))
    if not groups:
        raise ValueError(f"strategy library {file} has no [[group]]")
    return groups


def group_of(tier: str, library: list[Group]) -> str | None:
    """The library group that covers ``tier`` (``None``: none does)."""
    for g in library:
        if tier in g.tiers:
            return g.key
    return None


EVIDENCE = (
    "evidence_arm",
    "evidence_lift",
    "evidence_low",
    "evidence_high",
    "evidence_n",
    "evidence_from",
)


def strategy_table(
    segments: list[str],
    library: list[Group],
    coming: Edition,
    lang: str = "zh",
    evidence: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The strategy table of a plan: one row per target group among ``segments``.

    Parameters:
        evidence: stored review evidence (``review_evidence``): each group shows the arm
            that lifted the purchase rate of a segment it covers most, among the lifts
            significant after correction, with its interval, units and review.

    Returns:
        ``group``, ``segments`` (the plan's rows it covers), ``strategy``, ``channel``,
        ``resources``, one column per phase holding the play (the phases' dates are in
        ``coming``), and the evidence columns (empty where none).
    """
    rows = []
    for g in library:
        covered = [s for s in segments if s in g.tiers]
        if not covered:
            continue
        row: dict[str, Any] = {"group": g.key, "segments": ",".join(covered)}
        for f in FIELDS:
            row[f] = g.text[f][lang]
        row.update(_best_evidence(g, evidence))
        rows.append(row)
    return pd.DataFrame(rows, columns=["group", "segments", *FIELDS, *EVIDENCE])


def _best_evidence(group: Group, evidence: pd.DataFrame | None) -> dict[str, Any]:
    none: dict[str, Any] = dict.fromkeys(EVIDENCE)
    if evidence is None or evidence.empty:
        return none
    e = evidence[
        evidence["segment"].isin(group.tiers)
        & (evidence["outcome"] == "bought")
        & evidence["significant"].astype(bool)
        & ~evidence["srm_broken"].astype(bool)
        & (evidence["lift"] > 0)
    ]
    if e.empty:
        return none
    best = e.sort_values(["created", "lift"], ascending=[False, False]).iloc[0]
    return {
        "evidence_arm": str(best["arm"]),
        "evidence_lift": float(best["lift"]),
        "evidence_low": float(best["lift_low"]),
        "evidence_high": float(best["lift_high"]),
        "evidence_n": int(best["n_arm"]) + int(best["n_control"]),
        "evidence_from": str(best["edition"] or best["review"]),
    }


def library_records(library: list[Group]) -> list[dict[str, Any]]:
    """The library as plain records (stored with a plan as JSON)."""
    return [{"key": g.key, "tiers": list(g.tiers), **g.text} for g in library]


def library_from_records(records: list[dict[str, Any]]) -> list[Group]:
    """The library back from :func:`library_records`."""
    return [Group(r["key"], tuple(r["tiers"]), {f: dict(r[f]) for f in FIELDS}) for r in records]
