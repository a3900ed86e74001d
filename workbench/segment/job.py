"""The segment job's entry: one snapshot with its propensity and clusters, and where it is stored.

:func:`run` is what the CLI (``workbench segment``), the 02_segment notebook
and a later job (planning reads the snapshots of past editions) all call, so
the stored rows are the same whichever of them made them. :func:`write`
stores a snapshot in ``segments`` and the settings it was made with in
``segment_runs``; :func:`stored` reads a stored snapshot back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import ibis
import ibis.expr.types as ir

from workbench.config import SegmentSettings
from workbench.engine import materialise, replace_rows, scratch_name, writing
from workbench.schema import SEGMENT_RUNS
from workbench.segment import cluster, propensity
from workbench.segment.facts import Purchases
from workbench.segment.segments import Snapshot, segment


def run(
    con: Any,
    as_of: dt.date,
    settings: SegmentSettings | None = None,
    link_threshold: float | None = None,
    *,
    scores: bool = True,
    within: Purchases | None = None,
) -> Snapshot:
    """Segment every person of the pool as of ``as_of``, with the 7-day propensity and
    the clusters, the table computed once into a scratch table.

    Parameters:
        con: an Ibis backend on the warehouse (a read-only one will do).
        as_of: the as-of date; later orders are left out.
        settings: the segment settings (their defaults if ``None``); a notebook passes
            ``settings.updated(parameters)``.
        link_threshold: the link threshold persons are resolved at (``None``: as stored).
        scores: train the 7-day repurchase model and cluster the buyers; ``False``
            leaves ``propensity_7d`` and ``cluster`` empty (an earlier snapshot that
            only a migration reads).
        within: the purchases of a later snapshot (its ``purchases``) to read this
            one's from, when several snapshots are made at once
            (:func:`~workbench.segment.facts.purchases`).

    Returns:
        A :class:`~workbench.segment.segments.Snapshot`. A part that cannot be made
        (too little history for the model, too few buyers to cluster) stays empty,
        and ``notes`` says why.

    Example:
        >>> snap = run(con, dt.date(2026, 11, 19))  # doctest: +SKIP
        >>> write(con, snap)  # doctest: +SKIP
        48210
    """
    snap = segment(con, as_of, settings, link_threshold, within=within)
    s = snap.settings
    key = (as_of, link_threshold, *dataclasses.astuple(s), scores)
    table = materialise(snap.table, scratch_name("segments", *key), con)
    notes: dict[str, str] = {}
    model = found = None
    if scores:
        try:
            model = propensity.train(snap.purchases, snap.cycles)
        except ValueError as exc:
            notes["propensity"] = str(exc)
        else:
            scored = propensity.score(snap.purchases, snap.cycles, model)
            table = propensity.with_scores(table, scored)
        try:
            found = cluster.fit(table)
        except ValueError as exc:
            notes["clusters"] = str(exc)
        else:
            table = cluster.with_clusters(table, cluster.assign(table, found))
        table = materialise(table, scratch_name("segments_scored", *key), con)
    return dataclasses.replace(snap, table=table, propensity=model, clusters=found, notes=notes)


def write(con: Any, snapshot: Snapshot, wait: float = 0.0) -> int:
    """Store a snapshot in ``segments``, replacing that as-of date's rows, and the
    settings it was made with in ``segment_runs``; return the rows stored.

    A read-only connection (a notebook's) is opened for writing for the moment
    it takes (:func:`workbench.engine.writing`).

    Parameters:
        con: an Ibis backend on the warehouse.
        snapshot: what :func:`run` returned.
        wait: seconds to wait while another process holds the warehouse.

    Raises:
        WarehouseLocked: another process holds the warehouse after ``wait`` seconds.
    """
    as_of = snapshot.as_of
    record = ibis.memtable(
        {
            "as_of": [as_of],
            "settings": [json.dumps(dataclasses.asdict(snapshot.settings), sort_keys=True)],
            "link_threshold": [snapshot.link_threshold],
            "propensity": [snapshot.propensity is not None],
            "clusters": [snapshot.clusters is not None],
            "written_at": [dt.datetime.now(dt.UTC).replace(tzinfo=None)],
        },
        schema=SEGMENT_RUNS.schema,
    )
    with writing(con, wait) as w:
        n = replace_rows(w, "segments", snapshot.table, "as_of", as_of)
        replace_rows(w, "segment_runs", record, "as_of", as_of)
    return n


def stored(con: Any, as_of: dt.date) -> ir.Table:
    """The snapshot stored for ``as_of`` (:func:`write`), one row per person.

    Raises:
        LookupError: no snapshot of that date is stored; the message lists those that are.
    """
    if "segments" not in con.list_tables():
        raise LookupError("no segment snapshot is stored yet: run `workbench segment`")
    seg = con.table("segments")
    rows = seg.filter(seg.as_of == as_of)
    if int(rows.count().execute()) == 0:
        dates = sorted(seg.select("as_of").distinct().to_pandas()["as_of"])
        found = ", ".join(str(d)[:10] for d in dates) or "none"
        raise LookupError(f"no segment snapshot as of {as_of} is stored; stored: {found}")
    return rows


def stored_settings(con: Any, as_of: dt.date) -> SegmentSettings | None:
    """The settings the snapshot of ``as_of`` was made with (``None`` if not recorded)."""
    if "segment_runs" not in con.list_tables():
        return None
    runs = con.table("segment_runs")
    found = runs.filter(runs.as_of == as_of).select("settings").to_pandas()
    if found.empty:
        return None
    known = {f.name for f in dataclasses.fields(SegmentSettings)}
    values = {k: v for k, v in json.loads(found["settings"].iat[0]).items() if k in known}
    return SegmentSettings(**values)
