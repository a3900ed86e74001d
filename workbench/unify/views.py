"""Tables and charts of the 01_unify report."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import altair as alt
import ibis
import pandas as pd
from IPython.display import Markdown

from workbench.errors import WarehouseIncomplete
from workbench.report.labels import label, relabel
from workbench.report.theme import table
from workbench.unify.accuracy import account_people, evidence_ceiling, pairwise_scores
from workbench.unify.identity import account_model, accounts_at, latest_run


def warehouse_notice(status: str, lang: str = "zh") -> Markdown | None:
    """One line at the top of the report when the warehouse is incomplete; nothing if whole.

    Parameters:
        status: from :func:`workbench.unify.warehouse_status`.

    Raises:
        WarehouseIncomplete: there are no persons to report on at all.
    """
    if status == "complete":
        return None
    line = label(f"warehouse_{status}", lang)
    if status in ("missing", "no_persons"):
        raise WarehouseIncomplete(line)
    return Markdown(f"**⚠ {html.escape(line)}**")


def arrivals_table(files: pd.DataFrame, lang: str = "zh") -> Any:
    """Files received per platform and format: count, data rows, size, encodings.

    Parameters:
        files: the frame from :func:`workbench.sources.inventory`.
        lang: ``zh`` or ``en``.
    """
    g = (
        files.groupby(["platform", "format"], as_index=False)
        .agg(
            files=("file", "count"),
            rows=("rows", "sum"),
            bytes=("bytes", "sum"),
            encoding=("encoding", lambda e: ", ".join(sorted(set(e)))),
        )
        .sort_values(["platform", "format"])
    )
    g["size_mb"] = g.pop("bytes") / 1e6
    return table(relabel(g, lang, values=["platform"]), formats={label("size_mb", lang): "{:,.1f}"})


def arrivals_chart(files: pd.DataFrame, lang: str = "zh") -> alt.Chart:
    """Data rows received per platform, stacked by export format."""
    g = files.groupby(["platform", "format"], as_index=False)["rows"].sum()
    g["platform_label"] = g["platform"].map(lambda p: label(p, lang))
    return (
        alt.Chart(g)
        .mark_bar()
        .encode(
            x=alt.X("rows:Q", title=label("rows", lang)),
            y=alt.Y("platform_label:N", title=label("platform", lang), sort="-x"),
            color=alt.Color(
                "format:N", title=label("format", lang), scale=alt.Scale(scheme="tableau20")
            ),
            tooltip=["platform_label:N", "format:N", alt.Tooltip("rows:Q", format=",")],
        )
        .properties(height=alt.Step(26))
    )


def _latest_log(con: Any) -> Any:
    log = con.table("ingest_log")
    latest = log.ingested_at.max().over(group_by=log.source_file)
    return log.filter(log.ingested_at == latest)


def loading_table(con: Any, lang: str = "zh") -> Any:
    """Per platform and format, from the latest ingestion of each file: rows read, loaded,
    rejected, values flagged (loaded as empty) and files refused. Read = loaded + rejected
    for every loaded file.

    Parameters:
        con: an Ibis backend on the warehouse (``workbench.engine.connect``).
        lang: ``zh`` or ``en``.
    """
    log = _latest_log(con)
    flagged = con.table("flagged_values").group_by("source_file").agg(values_flagged=ibis._.count())
    log = log.left_join(flagged, "source_file")
    g = (
        log.group_by(["platform", "format"])
        .agg(
            files=log.count(),
            refused=(log.status == "refused").sum(),
            rows_read=log.rows_read.sum(),
            rows_loaded=log.rows_loaded.sum(),
            rows_rejected=log.rows_rejected.sum(),
            values_flagged=log.values_flagged.fill_null(0).sum(),
        )
        .order_by(["platform", "format"])
        .to_pandas()
    )
    g["rejected_share"] = g["rows_rejected"] / g["rows_read"].where(g["rows_read"] > 0)
    return table(
        relabel(g, lang, values=["platform"]),
        formats={label("rejected_share", lang): "{:.1%}"},
    )


def rejection_table(con: Any, lang: str = "zh") -> Any:
    """Rejected rows by reason and column, with an example file and row to look at."""
    rej = con.table("rejected_rows")
    g = (
        rej.group_by(["reason", "column"])
        .agg(rows=rej.count(), files=rej.source_file.nunique(), example_file=rej.source_file.min())
        .order_by(ibis.desc("rows"))
        .to_pandas()
    )
    return table(relabel(g, lang))


# --- identity resolution -----------------------------------------------------------------


def identity_table(con: Any, threshold: float | None = None, lang: str = "zh") -> Any:
    """Accounts per platform by how they were joined to a person, and the persons they make.

    ``deterministic``: a strong key (full phone, member id, unionid, CRM binding)
    joins the account to another; ``probabilistic``: only a weak-evidence link
    does; ``unlinked``: the account is a person on its own.
    """
    acc = accounts_at(con, threshold)
    g = acc.group_by(["platform", "link_method"]).agg(n=acc.count()).to_pandas()
    wide = g.pivot_table(index="platform", columns="link_method", values="n", fill_value=0)
    wide = wide.reindex(columns=list(LINK_METHODS), fill_value=0).astype("int64")
    wide["accounts"] = wide.sum(axis=1)
    persons = acc.group_by("platform").agg(persons=acc.person_id.nunique()).to_pandas()
    wide = wide.join(persons.set_index("platform"))
    total = wide.sum(numeric_only=True).astype("int64")
    total["persons"] = int(acc.person_id.nunique().execute())
    wide.loc["total"] = total
    wide = wide.reset_index().rename(columns={"index": "platform"})
    return table(relabel(wide, lang, values=["platform"]), formats=_counts(wide, lang))


LINK_METHODS: tuple[str, ...] = ("deterministic", "probabilistic", "unlinked")


def _counts(frame: pd.DataFrame, lang: str) -> dict[str, str]:
    return {
        label(c, lang): "{:,.0f}" for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])
    }


def cluster_size_chart(con: Any, threshold: float | None = None, lang: str = "zh") -> alt.Chart:
    """Persons by how many accounts they hold (8 or more in one bar)."""
    acc = accounts_at(con, threshold)
    sizes = acc.group_by("person_id").agg(n=acc.count())
    capped = sizes.mutate(accounts=ibis.least(sizes.n, 8))
    g = capped.group_by("accounts").agg(persons=capped.count()).to_pandas()
    g["accounts_label"] = g["accounts"].map(lambda n: "8+" if n >= 8 else str(n))
    return (
        alt.Chart(g)
        .mark_bar()
        .encode(
            x=alt.X(
                "accounts_label:O",
                title=label("accounts_per_person", lang),
                sort=[str(i) for i in range(1, 8)] + ["8+"],
            ),
            y=alt.Y("persons:Q", title=label("persons", lang), scale=alt.Scale(type="symlog")),
            tooltip=["accounts_label:O", alt.Tooltip("persons:Q", format=",")],
        )
        .properties(height=220, width=alt.Step(40))
    )


def threshold_table(
    con: Any, thresholds: tuple[float, ...] = (0.5, 0.8, 0.9, 0.99), lang: str = "zh"
) -> Any:
    """What other thresholds would give: weak-evidence links kept, accounts joined, persons.

    Thresholds below the floor of the scored pairs are left out.
    """
    run = latest_run(con)
    floor = float(run["floor"]) if run else 0.0
    links = con.table("account_links")
    rows = []
    for t in sorted(x for x in thresholds if x >= floor):
        kept = links.filter((links.match_probability >= t) & ~links.held_apart)
        acc = accounts_at(con, t)
        found = acc.aggregate(
            probabilistic=(acc.link_method == "probabilistic").sum(),
            persons=acc.person_id.nunique(),
        ).to_pandas()
        rows.append(
            {
                "threshold": t,
                "links": int(kept.count().execute()),
                "probabilistic": int(found["probabilistic"].iat[0]),
                "persons": int(found["persons"].iat[0]),
            }
        )
    frame = pd.DataFrame(rows)
    formats = _counts(frame, lang)
    formats[label("threshold", lang)] = "{:.3g}"
    return table(relabel(frame, lang), formats=formats)


def link_weights_table(con: Any, lang: str = "zh") -> Any:
    """The trained linking model: per comparison level, m, u and the match weight."""
    w = con.table("link_weights").to_pandas()
    w = w[w["m"].notna()]
    return table(
        relabel(w, lang),
        formats={
            label("m", lang): "{:.4f}",
            label("u", lang): "{:.2e}",
            label("match_weight", lang): "{:+.1f}",
        },
    )


def link_weights_chart(con: Any, lang: str = "zh") -> alt.Chart:
    """Match weight (log2 of m/u) of each comparison level: how much each piece of
    evidence moves the odds that two accounts are one person. The prior bar is
    where a pair starts before any evidence."""
    w = con.table("link_weights").to_pandas()
    w = w[w["match_weight"].notna()].copy()
    w["row"] = w["comparison"] + ": " + w["level"]
    return (
        alt.Chart(w)
        .mark_bar()
        .encode(
            x=alt.X("match_weight:Q", title=label("match_weight", lang)),
            y=alt.Y("row:N", title=None, sort=None, axis=alt.Axis(labelLimit=320)),
            color=alt.condition(
                "datum.match_weight > 0", alt.value("#4c78a8"), alt.value("#e45756")
            ),
            tooltip=[
                "comparison:N",
                "level:N",
                alt.Tooltip("m:Q", format=".4f"),
                alt.Tooltip("u:Q", format=".2e"),
                alt.Tooltip("match_weight:Q", format="+.2f"),
            ],
        )
        .properties(height=alt.Step(18))
    )


def blocking_table(lang: str = "zh") -> Any:
    """The rules that propose candidate pairs, and how the model is trained."""
    model = account_model()
    rows = [
        {"rule": _rule_sql(rule), "purpose": label("blocking_prediction", lang)}
        for rule in model.blocking
    ]
    rows.append({"rule": model.deterministic[0], "purpose": label("blocking_prior", lang)})
    if model.m_from_label:
        rows.append(
            {
                "rule": f"l.{model.m_from_label} = r.{model.m_from_label}",
                "purpose": label("blocking_m", lang),
            }
        )
    return table(relabel(pd.DataFrame(rows), lang))


def _rule_sql(rule: Any) -> str:
    try:
        return str(rule.get_blocking_rule("duckdb").blocking_rule_sql)
    except AttributeError:
        return str(rule)


def accuracy_table(
    con: Any, truth_dir: str | Path, threshold: float | None = None, lang: str = "zh"
) -> Any:
    """Pairwise precision and recall against the synthetic truth, beside what the
    evidence allows at best (see :func:`workbench.unify.accuracy.evidence_ceiling`).
    Without truth (real data) it says so instead."""
    if not truth_dir or not (Path(truth_dir) / "orders").is_dir():
        return Markdown(label("no_truth", lang).format(path=html.escape(str(truth_dir))))
    people = account_people(con, truth_dir)
    acc = accounts_at(con, threshold).to_pandas().set_index("account_key")
    rows = {
        "strong_keys_only": pairwise_scores(acc["key_group"], people["owner"]),
        "resolved": pairwise_scores(acc["person_id"], people["owner"]),
        "evidence_ceiling": evidence_ceiling(acc["key_group"], people),
    }
    frame = pd.DataFrame(rows).T.reset_index(names="resolution")
    frame["resolution"] = frame["resolution"].map(lambda k: label(k, lang))
    frame = frame[
        [
            "resolution",
            "precision",
            "recall",
            "f1",
            "predicted_pairs",
            "true_pairs",
            "correct_pairs",
        ]
    ]
    formats = {label(c, lang): "{:.4f}" for c in ("precision", "recall", "f1")}
    formats.update(
        {label(c, lang): "{:,.0f}" for c in ("predicted_pairs", "true_pairs", "correct_pairs")}
    )
    return table(relabel(frame, lang), formats=formats)
