"""Editions of a promotion: the dates of each year's four phases, from the campaigns table
or from the festival calendar.

An edition is one year of a promotion (双11-2025). Its phases are 蓄水期
warm-up, 爆发期 burst, 返场 sustain and 收尾期 close; its window runs from the
first day of the warm-up to the last day of the close. The campaigns table
gives the dates of the editions a team ran; for the others, the calendar
below gives the platforms' usual dates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, ClassVar

PHASES: tuple[str, ...] = ("warmup", "burst", "return", "tail")
"""The four phases, in order: 蓄水期, 爆发期, 返场 (稳定期), 收尾期."""

CALENDAR: dict[str, tuple[tuple[int, int], ...]] = {
    # first day of each phase, then the last day of the close, as (month, day)
    "618": ((5, 20), (6, 1), (6, 19), (6, 21), (6, 25)),
    "双11": ((10, 20), (11, 1), (11, 12), (11, 15), (11, 18)),
}
"""The usual dates of the promotions the calendar knows, for years without a campaign."""

ALIASES: dict[str, str] = {"1111": "双11", "double11": "双11", "双十一": "双11"}


class Notice:
    """A note on what a plan could not do: a key (``edition_before_data``) and the values
    its sentence names; :meth:`text` gives the sentence in English, a report its label."""

    SENTENCES: ClassVar[dict[str, str]] = {
        "edition_after_as_of": "{edition} ends {end}, after the as-of date {as_of}",
        "edition_before_data": "{edition} starts {start}, before the first order {first}",
        "fewer_editions": "the history holds {found} of {wanted} editions",
        "no_members": "no member records: every cell's member tier is non-member",
        "calendar_dates": "no campaign of this promotion in the data: its dates are the calendar's",
        "no_target": "no target: the plan shows the baseline without a gap",
        "packs_as_audience": "no campaign ran {plan}'s edition: its own audience packs are the experiment",
        "no_campaign": "no campaign ran {edition}: no reach, funnel or coupons to show",
        "mixed_arms": "{n} persons whose members fell in different arms are left out",
        "table_only": "an experiment table alone: no plan, reach, coupons or retention to show",
    }

    def __init__(self, key: str, **values: Any) -> None:
        self.key = key
        self.values = {k: str(v) for k, v in values.items()}

    def text(self) -> str:
        return self.SENTENCES[self.key].format(**self.values)

    def __repr__(self) -> str:
        return f"Notice({self.key!r}, {self.values!r})"


@dataclass(frozen=True)
class Edition:
    """One year of a promotion and the dates of its phases.

    Attributes:
        promotion: the festival, as the campaigns table names it (``双11``).
        year: the edition's year.
        starts: the first day of each phase, in :data:`PHASES` order.
        end: the last day of the close.
        source: ``campaigns`` (the campaign's own dates), ``calendar`` or ``given``.
        campaign_id: the campaign that ran it, if any.
    """

    promotion: str
    year: int
    starts: tuple[dt.date, ...]
    end: dt.date
    source: str
    campaign_id: str | None = None

    @property
    def name(self) -> str:
        """``双11-2025``."""
        return f"{self.promotion}-{self.year}"

    @property
    def start(self) -> dt.date:
        """The first day of the warm-up."""
        return self.starts[0]

    @property
    def eve(self) -> dt.date:
        """The day before the warm-up: the as-of date of the edition's population."""
        return self.start - dt.timedelta(days=1)

    def phases(self) -> list[tuple[str, dt.date, dt.date]]:
        """Each phase with its first and last day."""
        ends = [s - dt.timedelta(days=1) for s in self.starts[1:]] + [self.end]
        return [(p, s, e) for p, s, e in zip(PHASES, self.starts, ends, strict=True)]


def canonical(promotion: str) -> str:
    """The promotion's name as the calendar and the campaigns table write it."""
    text = promotion.strip()
    return ALIASES.get(text.lower(), text)


def known_promotions(con: Any) -> list[str]:
    """The promotions the campaigns table or the calendar knows."""
    found = list(CALENDAR)
    if "campaigns" in con.list_tables() and "festival" in con.table("campaigns").columns:
        c = con.table("campaigns")
        for f in c.select("festival").distinct().to_pandas()["festival"].dropna():
            if f not in found:
                found.append(str(f))
    return found


def campaign_editions(con: Any, promotion: str) -> dict[int, Edition]:
    """The editions of ``promotion`` the campaigns table holds, by year (none when the
    table lacks the promotion, the year or a phase's dates)."""
    if "campaigns" not in con.list_tables():
        return {}
    c = con.table("campaigns")
    needed = {"campaign_id", "festival", "year", "tail_end", *(f"{p}_start" for p in PHASES)}
    if not needed <= set(c.columns):
        return {}
    rows = c.filter(c.festival == promotion).to_pandas()
    out: dict[int, Edition] = {}
    for r in rows.itertuples():
        starts = tuple(_day(getattr(r, f"{p}_start")) for p in PHASES)
        out[int(r.year)] = Edition(
            promotion, int(r.year), starts, _day(r.tail_end), "campaigns", str(r.campaign_id)
        )
    return out


def calendar_edition(promotion: str, year: int) -> Edition | None:
    """The edition of ``year`` at the calendar's usual dates (``None``: not in the calendar)."""
    days = CALENDAR.get(promotion)
    if days is None:
        return None
    dates = tuple(dt.date(year, m, d) for m, d in days)
    return Edition(promotion, year, dates[:4], dates[4], "calendar")


def edition(con: Any, promotion: str, year: int) -> Edition | None:
    """The edition of ``year``: the campaign's dates where it ran, else the calendar's."""
    return campaign_editions(con, promotion).get(year) or calendar_edition(promotion, year)


def given_edition(promotion: str, dates: str) -> Edition:
    """An edition from text: the first day of each of the four phases and the last day of
    the close, comma-separated (``2026-10-20,2026-11-01,2026-11-12,2026-11-15,2026-11-18``).

    Raises:
        ValueError: not five dates, or not in order.
    """
    parts = [p.strip() for p in dates.split(",") if p.strip()]
    try:
        days = [dt.date.fromisoformat(p) for p in parts]
    except ValueError:
        days = []
    if len(days) != 5:
        raise ValueError(
            f"edition dates {dates!r}: give the first day of warm-up, burst, sustain and "
            "close and the last day of the close, five dates YYYY-MM-DD separated by commas"
        )
    if any(b <= a for a, b in pairwise(days[:4])) or days[4] < days[3]:
        raise ValueError(f"edition dates {dates!r} are not in order")
    return Edition(promotion, days[0].year, tuple(days[:4]), days[4], "given")


def next_edition(con: Any, promotion: str, as_of: dt.date) -> Edition:
    """The first edition of ``promotion`` whose warm-up starts after ``as_of``.

    Raises:
        ValueError: the promotion is neither in the campaigns table nor in the calendar.
    """
    for year in range(as_of.year, as_of.year + 2):
        found = edition(con, promotion, year)
        if found is not None and found.start > as_of:
            return found
    raise ValueError(
        f"promotion {promotion!r} is unknown: the campaigns table and the calendar know "
        f"{', '.join(known_promotions(con))}"
    )


def past_editions(
    con: Any,
    coming: Edition,
    count: int,
    as_of: dt.date,
    first_day: dt.date | None,
) -> tuple[list[Edition], list[Notice]]:
    """Up to ``count`` editions before ``coming`` whose window lies wholly within the data
    (from ``first_day`` to ``as_of``), oldest first, and notes on the years left out.

    An edition whose warm-up starts before the first order would count every buyer
    as new, and one that ends after ``as_of`` is not over: both are left out.
    """
    found: list[Edition] = []
    notes: list[Notice] = []
    year = coming.year - 1
    while len(found) < count and year >= coming.year - count - 5:
        e = edition(con, coming.promotion, year)
        year -= 1
        if e is None:
            continue
        if e.end > as_of:
            notes.append(Notice("edition_after_as_of", edition=e.name, end=e.end, as_of=as_of))
            continue
        if first_day is None or e.start <= first_day:
            if first_day is not None:
                notes.append(
                    Notice("edition_before_data", edition=e.name, start=e.start, first=first_day)
                )
            break
        found.append(e)
    return found[::-1], notes


def check_editions(editions: list[Edition]) -> None:
    """Refuse editions whose windows overlap, naming both.

    Raises:
        ValueError: two windows overlap.
    """
    ordered = sorted(editions, key=lambda e: e.start)
    for a, b in pairwise(ordered):
        if b.start <= a.end:
            raise ValueError(
                f"editions {a.name} ({a.start} to {a.end}) and {b.name} ({b.start} to "
                f"{b.end}) overlap"
            )


def _day(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
