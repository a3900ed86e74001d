"""Any experiment table, checked and summarised per arm in the engine.

An experiment table has one row per unit (a person, a member, a customer):
the unit's id, its arm (the holdout and the benefit arms), one or more
outcomes (a 0/1 response such as *bought*, or an amount such as *spend*), and
optionally a pre-period covariate (the same spend in a window before) and a
per-unit cost (coupon face value used, points given). It may be the executed
audience of a campaign with its orders joined on, a plan's audience packs, or
a public test such as Hillstrom's.

:func:`experiment` names the columns and checks what can be checked without
running anything; :func:`summarise` runs the engine once (one group-by over
the arms, or over segment and arm, plus one check that each unit is in one
arm) and returns a :class:`Summary`: per arm the number of units and, per
column, the mean, the sample variance and the covariances with the covariate
and the cost. These are the engine's numerically stable forms of the sums,
sums of squares and cross products, and all the statistics of this package
need: they are read into tea-tasting's :class:`~tea_tasting.aggr.Aggregates`,
so no per-unit table ever reaches pandas.

Example:
    >>> import ibis
    >>> t = ibis.memtable({"unit": [1, 2, 3, 4], "arm": ["control", "A", "control", "A"],
    ...                    "bought": [0, 1, 1, 1], "spend": [0.0, 30.0, 12.0, 18.0]})
    >>> exp = experiment(t, unit="unit", arm="arm", control="control",
    ...                  outcomes=["bought", "spend"])
    >>> s = summarise(exp)
    >>> s.kinds
    {'bought': 'rate', 'spend': 'mean'}
    >>> s.arm_units()
    {'A': 2, 'control': 2}
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd
from tea_tasting.aggr import Aggregates

from workbench.errors import WorkbenchError

Kind = Literal["rate", "mean"]
KINDS: tuple[Kind, ...] = ("rate", "mean")
ALL: str = "(all)"
"""The segment name of a summary that is not split by segment."""


class ExperimentError(WorkbenchError, ValueError):
    """An experiment table or a setting of its analysis cannot be used; the message is one
    line naming the problem."""


@dataclass(frozen=True)
class Experiment:
    """An experiment table and the meaning of its columns.

    Made by :func:`experiment`, which checks the columns.

    Attributes:
        table: the experiment table, one row per unit (an Ibis table, not executed).
        unit: the column of the unit's id.
        arm: the column of the unit's arm.
        control: the arm the others are measured against (the holdout).
        outcomes: each outcome column and its kind, ``rate`` (0/1) or ``mean``;
            ``None`` when the kind is to be read from the data (a column of only
            0 and 1 is a rate).
        covariate: the pre-period covariate column (CUPED), if any.
        cost: the per-unit cost column (ROI), if any.
        shares: the share of units each arm was meant to get (for the sample-ratio
            check), normalised to sum to 1; ``None`` for equal shares of the arms found.
    """

    table: ir.Table
    unit: str
    arm: str
    control: Hashable
    outcomes: Mapping[str, Kind | None]
    covariate: str | None = None
    cost: str | None = None
    shares: Mapping[Hashable, float] | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The numeric columns a summary aggregates: outcomes, covariate, cost."""
        extra = [c for c in (self.covariate, self.cost) if c is not None]
        return tuple(dict.fromkeys([*self.outcomes, *extra]))


def experiment(
    table: ir.Table,
    *,
    unit: str,
    arm: str,
    control: Hashable,
    outcomes: Sequence[str] | Mapping[str, Kind | None],
    covariate: str | None = None,
    cost: str | None = None,
    shares: Mapping[Hashable, float] | None = None,
) -> Experiment:
    """Name the columns of an experiment table and check them (nothing is executed).

    Parameters:
        table: one row per unit: its id, its arm, its outcomes and, optionally, a
            pre-period covariate and a per-unit cost.
        unit: the column of the unit's id (``person_id``).
        arm: the column of the unit's arm (``control``, ``A``, ``B``...).
        control: the arm the others are measured against.
        outcomes: the outcome columns; a list (a column of only 0 and 1 is a response
            rate, any other a mean such as revenue per head), or a mapping from column
            to ``"rate"`` or ``"mean"`` to say so.
        covariate: a pre-period column for CUPED (the same spend in a window before).
        cost: a per-unit cost column for ROI (coupon face value used, points).
        shares: the share of units each arm was meant to get, e.g.
            ``{"control": 0.1, "A": 0.3, "B": 0.3, "C": 0.3}`` (any positive numbers;
            they are normalised); equal shares of the arms found when ``None``.

    Returns:
        An :class:`Experiment`.

    Raises:
        ExperimentError: a named column is missing or not numeric, no outcome is given,
            an outcome's kind is neither rate nor mean, or a share is not positive.

    Example:
        >>> import ibis
        >>> t = ibis.memtable({"id": [1, 2], "arm": ["c", "t"], "spend": [0.0, 9.9]})
        >>> experiment(t, unit="id", arm="arm", control="c", outcomes=["spend"]).columns
        ('spend',)
    """
    kinds: dict[str, Kind | None]
    if isinstance(outcomes, str):
        kinds = {outcomes: None}
    elif isinstance(outcomes, Mapping):
        kinds = dict(outcomes)
    else:
        kinds = dict.fromkeys(outcomes)
    if not kinds:
        raise ExperimentError(
            "no outcome column given; name at least one (e.g. outcomes=['spend'])"
        )
    for name, kind in kinds.items():
        if kind is not None and kind not in KINDS:
            raise ExperimentError(f"outcome {name!r} has kind {kind!r}; use 'rate' or 'mean'")
    schema = table.schema()
    found = ", ".join(schema.names)
    roles = [("unit", unit), ("arm", arm)]
    roles += [("outcome", c) for c in kinds]
    roles += [(r, c) for r, c in (("covariate", covariate), ("cost", cost)) if c is not None]
    for role, column in roles:
        if column not in schema:
            raise ExperimentError(
                f"the experiment table has no {role} column {column!r}; columns found: {found}"
            )
        dtype = schema[column]
        if role not in ("unit", "arm") and not (dtype.is_numeric() or dtype.is_boolean()):
            raise ExperimentError(f"{role} column {column!r} is {dtype}, not a number")
    named = [unit, arm, *kinds, *(c for c in (covariate, cost) if c is not None)]
    twice = sorted({c for c in named if named.count(c) > 1})
    if twice:
        raise ExperimentError(
            f"column {twice[0]!r} is named for two roles; give each its own column"
        )
    normal = None
    if shares is not None:
        bad = {a: s for a, s in shares.items() if not _positive(s)}
        if bad or not shares:
            raise ExperimentError(f"expected arm shares must be positive numbers; got {bad or {}}")
        total = float(sum(shares.values()))
        normal = {a: float(s) / total for a, s in shares.items()}
    return Experiment(table, unit, arm, control, kinds, covariate, cost, normal)


def _positive(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, int | float) and math.isfinite(x) and x > 0


def check_confidence(confidence: Any) -> float:
    """``confidence`` as a float when it lies in (0, 1); otherwise a one-line error.

    Parameters:
        confidence: an interval's level, 0.95 for 95%.

    Returns:
        ``confidence`` as a float.

    Raises:
        ExperimentError: not a number, or 0 or below, or 1 or above.

    Example:
        >>> check_confidence(0.95)
        0.95
    """
    ok = not isinstance(confidence, bool) and isinstance(confidence, int | float)
    if not ok or not 0 < confidence < 1:
        raise ExperimentError(
            f"confidence level {confidence!r} is outside (0, 1); give e.g. 0.95 for 95%"
        )
    return float(confidence)


@dataclass(frozen=True)
class Summary:
    """What the engine returns for an experiment: per cell (segment and arm) the units and,
    per column, the mean, variance and covariances, as tea-tasting aggregates.

    Attributes:
        experiment: the experiment summarised.
        by: the segment column the cells are split by, or ``None`` (one segment, :data:`ALL`).
        kinds: each outcome's kind, ``rate`` or ``mean``.
        cells: ``{(segment, arm): Aggregates}``; an aggregate's ``count_`` is its units.
        arms: the arms, control first, then the others in sorted order.
        segments: the segments in sorted order (``[ALL]`` when not split).
    """

    experiment: Experiment
    by: str | None
    kinds: dict[str, Kind]
    cells: dict[tuple[Hashable, Hashable], Aggregates] = field(repr=False)
    arms: tuple[Hashable, ...]
    segments: tuple[Hashable, ...]

    def aggregates(self, arm: Hashable, segment: Hashable = ALL) -> Aggregates | None:
        """The aggregates of one cell, or ``None`` when the segment has no unit in the arm."""
        return self.cells.get((segment, arm))

    def arm_units(self) -> dict[Hashable, int]:
        """Units per arm, over all segments.

        Example:
            >>> # {'A': 2, 'control': 2}; see the module's example
        """
        out: dict[Hashable, int] = {}
        for (_, a), agg in self.cells.items():
            out[a] = out.get(a, 0) + agg.count()
        return dict(sorted(out.items(), key=lambda kv: str(kv[0])))

    def table(self) -> pd.DataFrame:
        """One row per cell: segment (when split), arm, units and each outcome's mean.

        Example:
            >>> # columns: arm, units, bought, spend; see the module's example
        """
        rows = []
        for (seg, a), agg in self.cells.items():
            row: dict[str, Any] = {"segment": seg} if self.by else {}
            row |= {"arm": a, "units": agg.count()}
            row |= {c: agg.mean(c) for c in self.kinds}
            rows.append(row)
        return pd.DataFrame(rows)


def summarise(exp: Experiment, by: str | None = None) -> Summary:
    """Check the experiment table and aggregate it per arm (and segment) in the engine.

    The engine computes, per cell, the units, and per outcome, covariate and cost
    column the mean, the sample variance, the count of empty values and of values
    other than 0 and 1, and the covariances of each outcome with the covariate and
    the cost. A second query counts units in more than one arm or in more than one
    row. Only these few numbers per cell come back.

    Parameters:
        exp: the experiment (:func:`experiment`).
        by: a segment column to split every arm by (lifecycle tier, RFM segment); the
            segment's values are kept as they are, an empty one as ``None``.

    Returns:
        A :class:`Summary`.

    Raises:
        ExperimentError: the table has one arm only, the control arm is not in it, an arm
            of the expected shares has no units or an arm found is not among them, some
            units have no arm or no id, a unit is in two arms or in two rows, an outcome,
            covariate or cost has empty values, an outcome said to be a rate holds values
            other than 0 and 1, or the segment column is missing.

    Example:
        >>> # see the module's example
    """
    t = exp.table
    if by is not None and by not in t.schema():
        found = ", ".join(t.schema().names)
        raise ExperimentError(
            f"the experiment table has no segment column {by!r}; columns found: {found}"
        )
    _check_units(t, exp.unit, exp.arm)
    cols = exp.columns
    name = {c: f"c{i}" for i, c in enumerate(cols)}
    work = t.select(
        _arm=t[exp.arm],
        _seg=t[by] if by is not None else ibis.literal(ALL),
        **{name[c]: t[c].cast("float64") for c in cols},
    )
    aggs: dict[str, ir.Scalar] = {"_units": work.count()}
    for c in cols:
        x = work[name[c]]
        aggs[f"{name[c]}_mean"] = x.mean()
        aggs[f"{name[c]}_var"] = x.var(how="sample")
        aggs[f"{name[c]}_null"] = x.isnull().sum()
        aggs[f"{name[c]}_other"] = ibis.ifelse(x.isin([0.0, 1.0]), 0, 1).sum()
    pairs = _pairs(exp)
    for a, b in pairs:
        aggs[f"{name[a]}_{name[b]}_cov"] = work[name[a]].cov(work[name[b]], how="sample")
    frame = work.group_by(["_seg", "_arm"]).aggregate(**aggs).to_pandas()
    frame = frame.astype(object).where(frame.notna(), None)

    arms_found = set(frame["_arm"])
    if None in arms_found:
        n = int(sum(frame.loc[frame["_arm"].isna(), "_units"]))
        raise ExperimentError(
            f"column {exp.arm!r} is empty for {plural(n, 'unit')}; every unit needs an arm"
        )
    _check_arms(exp, arms_found)
    for c in cols:
        empty = int(sum(frame[f"{name[c]}_null"]))
        if empty:
            raise ExperimentError(
                f"column {c!r} has {plural(empty, 'empty value')}; fill them (0 for no "
                "purchase) or leave those units out of the table"
            )
    kinds: dict[str, Kind] = {}
    for c, kind in exp.outcomes.items():
        binary = int(sum(frame[f"{name[c]}_other"])) == 0
        if kind == "rate" and not binary:
            raise ExperimentError(
                f"outcome {c!r} is said to be a rate but holds values other than 0 and 1"
            )
        kinds[c] = kind or ("rate" if binary else "mean")

    cells: dict[tuple[Hashable, Hashable], Aggregates] = {}
    for row in frame.to_dict("records"):
        cells[(row["_seg"], row["_arm"])] = Aggregates(
            count_=int(row["_units"]),
            mean_={c: _num(row[f"{name[c]}_mean"]) for c in cols},
            var_={c: _num(row[f"{name[c]}_var"]) for c in cols},
            cov_={(a, b): _num(row[f"{name[a]}_{name[b]}_cov"]) for a, b in pairs},
        )
    others = sorted((a for a in arms_found if a != exp.control), key=str)
    segments = sorted({s for s, _ in cells}, key=lambda s: (s is None, str(s)))
    return Summary(exp, by, kinds, cells, (exp.control, *others), tuple(segments))


def _pairs(exp: Experiment) -> list[tuple[str, str]]:
    """The covariances a summary needs: each outcome with the covariate and with the cost."""
    pairs = []
    for other in (exp.covariate, exp.cost):
        if other is None:
            continue
        pairs += [(c, other) for c in exp.outcomes if c != other]
    return list(dict.fromkeys(pairs))


def plural(n: int, word: str) -> str:
    """``1 unit``, ``2,000 units``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _num(x: Any) -> float:
    """A float from an engine value; an undefined variance (one unit) is NaN."""
    return float("nan") if x is None else float(x)


def _check_arms(exp: Experiment, found: set[Hashable]) -> None:
    names = ", ".join(sorted(map(repr, found)))
    if exp.control not in found:
        raise ExperimentError(
            f"control arm {exp.control!r} is not in the table; its arms are {names}"
        )
    if len(found) < 2:
        raise ExperimentError(f"the table has one arm only ({names}); there is nothing to compare")
    if exp.shares is not None:
        for a in exp.shares:
            if a not in found:
                raise ExperimentError(f"arm {a!r} has no units; the table's arms are {names}")
        extra = sorted(map(repr, found - set(exp.shares)))
        if extra:
            raise ExperimentError(f"arm {extra[0]} is in the table but not in the expected shares")


def _check_units(t: ir.Table, unit: str, arm: str) -> None:
    """Refuse a table where a unit is in two arms, in two rows, or has no id."""
    g = t.group_by(unit).aggregate(_rows=t.count(), _arms=t[arm].nunique())
    check = g.aggregate(
        no_id=ibis.ifelse(g[unit].isnull(), g["_rows"], 0).sum(),
        two_arms=ibis.ifelse(g[unit].notnull() & (g["_arms"] > 1), 1, 0).sum(),
        two_rows=ibis.ifelse(g[unit].notnull() & (g["_rows"] > 1), 1, 0).sum(),
    ).to_pandas()
    no_id, two_arms, two_rows = (int(check[c].fillna(0).iloc[0]) for c in check.columns)
    if no_id:
        raise ExperimentError(
            f"column {unit!r} is empty in {plural(no_id, 'row')}; every row needs a unit id"
        )
    if two_arms:
        key = _first(g.filter(g["_arms"] > 1).select(unit))
        arms = sorted(
            map(repr, t.filter(t[unit] == key).select(arm).distinct().to_pyarrow()[0].to_pylist())
        )
        raise ExperimentError(
            f"unit {key!r} is in arms {' and '.join(arms)}; {plural(two_arms, 'unit')} in "
            "more than one arm in all, and each unit must be in exactly one"
        )
    if two_rows:
        key = _first(g.filter(g["_rows"] > 1).select(unit))
        raise ExperimentError(
            f"unit {key!r} has more than one row ({plural(two_rows, 'unit')} in all); the "
            "experiment table needs one row per unit, with its outcomes summed over its orders"
        )


def _first(t: ir.Table) -> Any:
    """The first value of a one-column table, as a Python value."""
    return t.limit(1).to_pyarrow()[0][0].as_py()
