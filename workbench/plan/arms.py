"""Who is held out and which benefit each treated person gets: arms by a salted hash.

A person's arm is a function of the salt, the plan's name and the person's
stable ``person_id``, nothing else: the same person gets the same arm in the
same plan on every run, whatever the order or the other rows of the table,
and a person who appears in several packs of a plan (one per phase or group)
has one arm in all of them. Different plans draw afresh, independently.

The draw is computed in the engine: the MD5 digest of
``salt|plan|<plan name>|<person_id>`` as hex (the same function and the same
lowercase hex on DuckDB and Spark), its first 13 hex digits (52 bits, exact in
a double) read as a whole number and divided by ``16**13``, a uniform number
``u`` in [0, 1). ``u`` below the holdout share is ``control``; the rest is
split among the benefit arms by their shares (or is ``treatment`` when the
plan has no arms).

A persistent global control group keeps a share of persons out of every
campaign for a calendar year, drawn from ``salt|global|<year>|<person_id>``,
independently of any plan. The plan job applies it like this::

    flagged = global_control(persons, salt, share=0.05, year=2027)
    packs = assign(flagged, "618-2027", salt, holdout_share=0.1)

:func:`assign` gives every flagged person the arm ``global_control``, whatever
the plan's own draw; such persons are left out of the contact lists (the pack
exports keep only the benefit arms) and counted in the pack sizes as the
global control, so the review can compare them too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from workbench.errors import ParameterError

CONTROL = "control"
"""The arm of the plan's holdout: in the pack, never contacted, measured."""
TREATMENT = "treatment"
"""The arm of every treated person when the plan has no benefit arms."""
GLOBAL_CONTROL = "global_control"
"""The arm of a person in the year's global control group."""
NOT_TREATED = (CONTROL, GLOBAL_CONTROL)
"""Arms whose persons are never contacted."""

HEX_DIGITS = 13
"""Hex digits of the digest read as a number: 52 bits, every value exact in a double."""
_HEX = "0123456789abcdef"


def check_share(share: float, what: str = "holdout share") -> float:
    """``share`` as a float when it lies in (0, 0.5]; otherwise a one-line error naming it.

    More than half held out would leave the treated group smaller than the
    control, and a share of zero measures nothing.

    Parameters:
        share: the proportion of persons held out.
        what: how the message names the parameter.

    Returns:
        ``share`` as a float.

    Raises:
        ParameterError: a share of 0 or below, above 0.5, or not a number.

    Example:
        >>> check_share(0.1)
        0.1
    """
    if isinstance(share, bool) or not isinstance(share, int | float) or math.isnan(share):
        raise ParameterError(f"{what} {share!r} is not a number; give one in (0, 0.5]")
    if not 0 < share <= 0.5:
        raise ParameterError(f"{what} {share!r} is outside (0, 0.5]; give one in (0, 0.5]")
    return float(share)


def with_draw(table: ir.Table, key: ir.StringValue, name: str) -> ir.Table:
    """Add the column ``name``: a number in [0, 1) that is a fixed function of ``key``.

    The MD5 digest of ``key`` in hex (the same on every backend), its first
    :data:`HEX_DIGITS` digits read as a whole number (a digit's value is its
    position in ``0123456789abcdef``), divided by ``16**13``. Over many keys the
    numbers are uniform. The digest and the number are columns of their own, so
    the engine hashes each row once however often the number is compared.

    Parameters:
        table: the table to extend.
        key: a string expression on ``table``; a missing key gives a missing number.
        name: the new column's name.

    Returns:
        ``table`` with ``name`` (float64) added.

    Example:
        >>> t = ibis.memtable({"k": ["a"]})
        >>> round(float(with_draw(t, t.k, "u").to_pandas().u[0]), 6)
        0.049827
    """
    hexed = table.mutate(_wb_digest=key.hexdigest("md5"))
    digest = hexed["_wb_digest"]
    # In doubles: every partial sum is a whole number below 2**52, so exact, and Spark
    # would add the digits (its LOCATE gives a 32-bit int) in 32 bits and overflow.
    number: ir.FloatingValue = ibis.literal(0.0, type="float64")
    for i in range(HEX_DIGITS):
        digit = ibis.literal(_HEX).find(digest.substr(i, 1)).cast("float64")
        number = number * 16.0 + digit
    return hexed.mutate(**{name: number / float(16**HEX_DIGITS)}).drop("_wb_digest")


def _check_arms(
    arms: Sequence[str], arm_shares: Sequence[float] | None
) -> tuple[list[str], list[float]]:
    """The arms and their shares of the treated persons, checked; one arm ``treatment`` if none."""
    if isinstance(arms, str):
        raise ParameterError(f"arms {arms!r} is one string; give a list of arm names")
    names = list(arms) or [TREATMENT]
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ParameterError(f"arm name {name!r} is empty or not text; name every arm")
        if name in NOT_TREATED:
            raise ParameterError(f"arm name {name!r} is reserved; choose another name")
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise ParameterError(f"arm names {', '.join(doubled)} appear more than once")
    if arm_shares is None:
        return names, [1 / len(names)] * len(names)
    shares = list(arm_shares)
    if not arms or len(shares) != len(names):
        raise ParameterError(
            f"arm shares {shares} do not match the arms {list(arms)}; give one share per arm"
        )
    for share in shares:
        if isinstance(share, bool) or not isinstance(share, int | float) or not share > 0:
            raise ParameterError(f"arm share {share!r} is not above 0; give each arm a share")
    if not math.isclose(sum(shares), 1.0, abs_tol=1e-9):
        raise ParameterError(
            f"arm shares {shares} sum to {sum(shares):g}, not 1; they split the treated persons"
        )
    return names, [float(s) for s in shares]


def assign(
    persons: ir.Table,
    plan_name: str,
    salt: str,
    holdout_share: float,
    arms: Sequence[str] = (),
    arm_shares: Sequence[float] | None = None,
) -> ir.Table:
    """Add the column ``arm``: ``control`` for the plan's holdout, else a benefit arm.

    A person's arm depends only on ``salt``, ``plan_name`` and ``person_id``
    (see the module's description), so it is the same on every run, in every
    pack of the plan, and whatever the row order. Persons flagged by
    :func:`global_control` (a boolean column ``global_control``) get the arm
    ``global_control`` instead, whatever the plan's draw.

    Parameters:
        persons: any table with a string ``person_id``; a person may appear in
            several rows (one per pack) and gets one arm in all of them.
        plan_name: the plan's name; another name draws again, independently.
        salt: secret text that keeps the draw unpredictable from the id alone.
        holdout_share: the share of persons held out as ``control``, in (0, 0.5].
        arms: names of the benefit arms tried on the treated persons; none gives
            every treated person the arm ``treatment``.
        arm_shares: each arm's share of the treated persons, in the order of
            ``arms``, summing to 1; equal shares when not given.

    Returns:
        ``persons`` with the column ``arm`` (string) added; a row without a
        ``person_id`` gets no arm (missing).

    Raises:
        ParameterError: a holdout share outside (0, 0.5]; an arm named
            ``control`` or ``global_control``, an empty or repeated arm name;
            shares that do not match the arms or do not sum to 1; an empty plan
            name or salt.

    Example:
        >>> persons = ibis.memtable({"person_id": ["P1", "P2", "P3"]})
        >>> out = assign(persons, "618-2027", "s3cret", 0.2, arms=["coupon_30", "points_x2"])
        >>> sorted(out.to_pandas().columns)
        ['arm', 'person_id']
    """
    holdout = check_share(holdout_share)
    names, shares = _check_arms(arms, arm_shares)
    if not isinstance(plan_name, str) or not plan_name.strip():
        raise ParameterError(f"plan name {plan_name!r} is empty; give the plan a name")
    if not isinstance(salt, str) or not salt:
        raise ParameterError("salt is empty; set one (WORKBENCH_SALT or workbench.toml)")
    key = ibis.literal(f"{salt}|plan|{plan_name}|") + persons.person_id
    drawn = with_draw(persons, key, "_wb_draw")
    u = drawn["_wb_draw"]
    # The treated part [holdout, 1) is cut by the arms' cumulative shares; the last
    # arm takes what is left, so rounding in the bounds cannot leave a gap.
    bounds: list[tuple[ir.BooleanValue, ir.Value]] = [
        (drawn.person_id.isnull(), ibis.null("string")),
        (u < holdout, ibis.literal(CONTROL)),
    ]
    upper = holdout
    for name, share in zip(names[:-1], shares[:-1], strict=True):
        upper += (1 - holdout) * share
        bounds.append((u < upper, ibis.literal(name)))
    arm = ibis.cases(*bounds, else_=names[-1])
    if "global_control" in persons.columns:
        flagged = drawn["global_control"]
        if not flagged.type().is_boolean():
            raise ParameterError(
                f"column global_control is {flagged.type()}, not boolean; "
                "flag persons with global_control()"
            )
        arm = ibis.cases((flagged.fill_null(False), GLOBAL_CONTROL), else_=arm)
    return drawn.mutate(arm=arm).drop("_wb_draw")


def global_control(persons: ir.Table, salt: str, share: float, year: int) -> ir.Table:
    """Add the boolean column ``global_control``: kept out of every campaign in ``year``.

    The draw uses ``salt``, the year and ``person_id``, never a plan's name: a
    flagged person stays flagged in every plan of the year, and the next year
    draws again. Pass the result to :func:`assign`, which gives flagged persons
    the arm ``global_control``.

    Parameters:
        persons: any table with a string ``person_id``.
        salt: the same secret as the plans'; the draw is independent of theirs.
        share: the share of persons kept out, in (0, 0.5].
        year: the calendar year the group holds for.

    Returns:
        ``persons`` with ``global_control`` (boolean) added.

    Raises:
        ParameterError: a share outside (0, 0.5], a year that is not a whole
            number, an empty salt.

    Example:
        >>> persons = ibis.memtable({"person_id": ["P1", "P2"]})
        >>> global_control(persons, "s3cret", 0.05, 2027).to_pandas().columns.tolist()
        ['person_id', 'global_control']
    """
    kept = check_share(share, "global control share")
    if isinstance(year, bool) or not isinstance(year, int):
        raise ParameterError(f"global control year {year!r} is not a whole number")
    if not isinstance(salt, str) or not salt:
        raise ParameterError("salt is empty; set one (WORKBENCH_SALT or workbench.toml)")
    key = ibis.literal(f"{salt}|global|{year}|") + persons.person_id
    drawn = with_draw(persons, key, "_wb_global")
    return drawn.mutate(global_control=drawn["_wb_global"] < kept).drop("_wb_global")
