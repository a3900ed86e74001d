"""The ``workbench`` command."""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from workbench import __version__
from workbench.config import Settings, load_settings

Wait = Annotated[
    float,
    typer.Option(min=0, help="Seconds to wait while a notebook or report holds the warehouse."),
]
"""The ``--wait`` option of every command that writes to the warehouse."""

app = typer.Typer(
    name="workbench",
    help=(
        "retail-workbench: unify, segment, plan and review multi-channel brand CRM data.\n\n"
        "Settings come from WORKBENCH_* environment variables or workbench.toml "
        "(see `workbench config`)."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

NOTEBOOKS = ("01_unify", "02_segment", "03_plan", "04_review")
DEMO_RUNS: dict[str, tuple[dict[str, Any], ...]] = {
    "03_plan": (
        # the backtest: 双11-2026 planned as of the eve of its warm-up, for the review
        {
            "plan_name": "double11-2026-backtest",
            "promotion": "双11",
            "as_of": "2026-10-19",
            "target_growth": 1.5,
        },
        # the next 618, planned from the last order date
        {"plan_name": "618-next", "promotion": "618", "target_growth": 1.5},
    ),
    "04_review": (
        # 双11-2026 against the backtest plan made as of its eve
        {"plan_name": "double11-2026-backtest"},
        # the MineThatData e-mail test, read where it is
        {
            "experiment_file": "../shared/data/real/hillstrom/hillstrom.csv.gz",
            "arm_column": "segment",
            "control_arm": "No E-Mail",
            "outcome_columns": "visit,conversion,spend",
            "revenue_column": "spend",
            "covariate_column": "history",
            "segment_column": "history_segment",
            "table_currency": "USD",
        },
    ),
}
"""The demo's runs of a notebook, each with its parameters (one default run otherwise)."""


def _settings() -> Settings:
    try:
        return load_settings()
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _on_the_warehouse_file(s: Settings, command: str) -> None:
    """Say on stderr that ``command`` uses the DuckDB warehouse whatever the engine setting."""
    if s.engine != "duckdb":
        typer.echo(
            f"note: `workbench {command}` reads and writes the DuckDB warehouse {s.warehouse}; "
            f"engine = {s.engine} applies to the Python API (workbench.engine.connect), whose "
            "session must already hold the warehouse tables",
            err=True,
        )


def _open_warehouse(s: Settings, wait: float) -> Any:
    """The warehouse for a job command, waiting ``wait`` seconds while another process
    holds it.

    Raises:
        FileNotFoundError: there is no warehouse yet.
    """
    import ibis

    from workbench.engine import open_duckdb

    if not s.warehouse.exists():
        raise FileNotFoundError(
            f"warehouse {s.warehouse} does not exist yet; run `workbench ingest` first"
        )
    return ibis.duckdb.from_connection(open_duckdb(s.warehouse, s, wait=wait))


def _fail(message: str) -> NoReturn:
    """One line on stderr, exit 2: nothing was done."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _print_version(value: bool) -> None:
    """``--version``: print the version and exit, before any command is looked for."""
    if value:
        typer.echo(__version__)
        raise typer.Exit(0)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at INFO.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def config(
    example: Annotated[
        bool,
        typer.Option(
            "--example", help="Print workbench.toml.example: every setting, its default and range."
        ),
    ] = False,
) -> None:
    """Print the resolved settings and where each came from.

    Example: workbench config   (or WORKBENCH_ENGINE=spark workbench config)
    """
    if example:
        from workbench.config import example_toml

        typer.echo(example_toml(), nl=False)
        return
    s = _settings()
    for f in dataclasses.fields(s):
        if f.name in ("salt", "source"):
            continue
        value = getattr(s, f.name)
        if dataclasses.is_dataclass(value):
            for g in dataclasses.fields(value):
                key = f"{f.name}.{g.name}"
                shown = f"{getattr(value, g.name)!s}"
                typer.echo(f"{key:30} {shown:34} {s.source.get(key, 'default')}")
            continue
        typer.echo(f"{f.name:14} {value!s:50} {s.source.get(f.name, 'default')}")
    salt = "development default (set WORKBENCH_SALT for real data)" if s.uses_dev_salt else "set"
    typer.echo(f"{'salt':14} {salt:50} {s.source.get('salt', 'default')}")


@app.command()
def synth(
    customers: Annotated[
        int, typer.Option("--customers", "-n", min=1, help="Persons to generate.")
    ] = 20_000,
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives the same files.")
    ] = 42,
    out: Annotated[
        Path | None, typer.Option(help="Raw directory (default: <data_dir>/raw).")
    ] = None,
    truth: Annotated[
        Path | None, typer.Option(help="Truth directory (default: <data_dir>/truth).")
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1000, help="Persons per batch; bounds memory.")
    ] = 50_000,
    force: Annotated[
        bool,
        typer.Option(help="Replace --out and the truth folder even if they hold other files."),
    ] = False,
) -> None:
    """Generate synthetic exports of every platform, with the ground truth beside them.

    Example: workbench synth --customers 100000 --seed 7 --out data/raw
    """
    from workbench.synth import generate

    s = _settings()
    out_dir = out or s.raw_dir
    truth_dir = truth or (out_dir.parent / "truth" if out else s.truth_dir)
    t0 = time.perf_counter()
    from workbench.errors import WorkbenchError

    try:
        r = generate(
            out_dir,
            truth_dir,
            customers=customers,
            seed=seed,
            batch_size=batch_size,
            progress=_progress(),
            force=force,
        )
    except WorkbenchError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"{customers:,} persons, {r.orders:,} orders, {len(r.files)} export files "
        f"in {time.perf_counter() - t0:.1f} s\n"
        f"  raw:   {out_dir}\n  truth: {truth_dir} (for tests and accuracy sections only)\n"
        f"  planted Douyin new-to-brand share: {r.douyin_new_share:.1%}"
    )


@app.command()
def ingest(
    raw_dir: Annotated[
        Path | None, typer.Argument(help="Directory of exports (default: <data_dir>/raw).")
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(help="A mapping file naming the columns of any order table (data/README.md)."),
    ] = None,
    wait: Wait = 0.0,
) -> None:
    """Load every export into the warehouse; print rows read / loaded / rejected per file.

    Re-running on the same or overlapping exports changes nothing. Rejected rows
    and their reasons are in the warehouse table rejected_rows; values that could
    not be read in loaded rows are in flagged_values. Exits 1 when a file was
    refused (unreadable, a required column missing), 2 when nothing could be
    done (no exports found, another salt, the warehouse in use).

    Example: workbench ingest data/raw   (or: workbench ingest --mapping data/mappings/cdnow.toml)
    """
    from workbench.errors import WorkbenchError
    from workbench.unify import ingest as run_ingest
    from workbench.unify import ingest_mapped

    s = _settings()
    _on_the_warehouse_file(s, "ingest")
    t0 = time.perf_counter()
    try:
        if mapping:
            result = ingest_mapped(mapping, s, progress=_progress(), wait=wait)
        else:
            result = run_ingest(raw_dir, s, progress=_progress(), wait=wait)
    except (FileNotFoundError, WorkbenchError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:  # a mapping file that cannot be used
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"{'file':48} {'read':>9} {'loaded':>9} {'rejected':>9} {'flagged':>8} {'new':>9}  status"
    )
    for f in result.files:
        typer.echo(
            f"{f.file:48} {f.rows_read:9,} {f.rows_loaded:9,} {f.rows_rejected:9,} "
            f"{f.rows_flagged:8,} {f.rows_new:9,}  {f.status}"
        )
    loaded = [f for f in result.files if f.status == "loaded"]
    typer.echo(
        f"{'total':48} {sum(f.rows_read for f in loaded):9,} "
        f"{sum(f.rows_loaded for f in loaded):9,} {sum(f.rows_rejected for f in loaded):9,} "
        f"{sum(f.rows_flagged for f in loaded):8,} {sum(f.rows_new for f in loaded):9,}  "
        f"in {time.perf_counter() - t0:.1f} s -> {s.warehouse}"
    )
    ident = result.identity
    typer.echo(
        f"identity: {ident.get('accounts', 0):,} accounts -> {ident.get('persons', 0):,} persons "
        f"({ident.get('accounts_deterministic', 0):,} joined by phone, member id, unionid or "
        f"binding; {ident.get('accounts_probabilistic', 0):,} by name, masked phone and address)"
    )
    for f in result.files:
        if f.status in ("skipped", "empty"):
            typer.echo(f"{f.status} {f.file}: {f.message}")
    if result.refused:
        typer.echo(f"{len(result.refused)} file(s) refused, nothing of them loaded:", err=True)
        for f in result.refused:
            typer.echo(f"  refused {f.message}", err=True)
        raise typer.Exit(1)


@app.command()
def segment(
    as_of: Annotated[
        list[str] | None,
        typer.Option(
            "--as-of",
            help="Snapshot date YYYY-MM-DD (repeat for several); default: the last order date.",
        ),
    ] = None,
    wait: Wait = 0.0,
    scores: Annotated[
        bool,
        typer.Option(
            help="Train the 7-day repurchase model and cluster the buyers (k-means, k by "
            "silhouette), storing each buyer's score and cluster."
        ),
    ] = True,
) -> None:
    """Segment every person at each as-of date and store the snapshots in `segments`.

    Settings come from [workbench.segment] in workbench.toml, or
    WORKBENCH_SEGMENT_* (`workbench config` lists them). A date already stored is
    replaced; other dates stay. The 02_segment report stores its as-of snapshot the
    same way.

    Example: workbench segment --as-of 2026-06-30 --as-of 2026-09-30
    """

    from workbench import segment as job
    from workbench.errors import WorkbenchError
    from workbench.report.params import as_date, check_value, order_dates

    s = _settings()
    _on_the_warehouse_file(s, "segment")
    try:
        dates = [as_date(check_value("as_of", d)) for d in as_of or []]
        con = _open_warehouse(s, wait)
        span = order_dates(con)
        if span is None:
            raise WorkbenchError(f"the warehouse {s.warehouse} holds no orders to segment")
        typer.echo(f"warehouse {s.warehouse}: orders {span[0]} to {span[1]}")
        for day in dates or [as_date(span[1])]:
            if day.isoformat() < span[0]:
                raise WorkbenchError(
                    f"no orders on or before {day}: the first order is of {span[0]}"
                )
            t0 = time.perf_counter()
            snap = job.run(con, day, s.segment, s.link_threshold, scores=scores)
            if snap.propensity is not None:
                fitted = snap.propensity
                typer.echo(
                    f"{day}: 7-day propensity AUC {fitted.auc:.3f} (recency alone "
                    f"{fitted.baseline_auc:.3f}), top-decile lift {fitted.lift:.1f}"
                )
            if snap.clusters is not None:
                found = snap.clusters
                typer.echo(
                    f"{day}: {found.k} clusters (silhouette {found.silhouettes[found.k]:.2f})"
                )
            for part, why in snap.notes.items():
                typer.echo(f"{day}: no {part}: {why}")
            n = job.write(con, snap)
            seg = job.stored(con, day)
            tiers = seg.group_by("tier_l1").agg(n=seg.count()).order_by("tier_l1").to_pandas()
            counts = ", ".join(
                f"{t} {k:,}" for t, k in zip(tiers["tier_l1"], tiers["n"], strict=True)
            )
            typer.echo(f"{day}: {n:,} persons ({counts}) in {time.perf_counter() - t0:.1f} s")
    except (FileNotFoundError, WorkbenchError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def plan(
    name: Annotated[
        str, typer.Option(help="The plan's name (saving it again makes a new version).")
    ],
    target: Annotated[
        float | None,
        typer.Option(help="GMV target of the coming edition; none: the baseline alone."),
    ] = None,
    target_growth: Annotated[
        float | None,
        typer.Option(help="Without --target: the target as a multiple of the last edition's GMV."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Date today's populations are counted at; default: the last order date."
        ),
    ] = None,
    promotion: Annotated[
        str | None, typer.Option(help="The promotion (618, 双11); default: the setting.")
    ] = None,
    target_new: Annotated[
        float | None, typer.Option(help="The new customers' part of the target.")
    ] = None,
    edition_dates: Annotated[
        str | None,
        typer.Option(
            help="The coming edition's phases: first day of warm-up, burst, sustain, close "
            "and the last day, comma-separated; default: the campaigns table, else the calendar."
        ),
    ] = None,
    levers: Annotated[
        Path | None,
        typer.Option(help="CSV of levers: segment, member_tier, rate, aov, measure, owner, note."),
    ] = None,
    strategy: Annotated[
        Path | None, typer.Option(help="An edited copy of the strategy library (TOML).")
    ] = None,
    wait: Wait = 0.0,
) -> None:
    """Plan the coming edition of a promotion and save the plan (history, baseline, gap,
    levers, strategy, audience packs) under its name.

    Settings come from [workbench.plan] in workbench.toml, or WORKBENCH_PLAN_*;
    segment snapshots of the past editions' eves are made and stored where missing.

    Example: workbench plan --name double11-2026 --target 200000 --as-of 2026-10-19
    """

    from workbench import plan as job
    from workbench.errors import WorkbenchError
    from workbench.report.params import as_date, check_value, order_dates

    s = _settings()
    _on_the_warehouse_file(s, "plan")
    try:
        settings = s.plan.updated({"promotion": promotion})
        con = _open_warehouse(s, wait)
        span = order_dates(con)
        if span is None:
            raise WorkbenchError(f"the warehouse {s.warehouse} holds no orders to plan from")
        day = as_date(check_value("as_of", as_of)) if as_of else as_date(span[1])
        t0 = time.perf_counter()
        p = job.run(
            con,
            day,
            name,
            target,
            settings,
            target_new=target_new,
            target_growth=target_growth,
            edition_dates=edition_dates,
            levers=levers,
            strategy_file=str(strategy) if strategy else None,
            segment_settings=s.segment,
            link_threshold=s.link_threshold,
            salt=s.salt,
        )
        version = job.write(con, p)
        for note in p.notes:
            typer.echo(f"note: {note.text()}")
        t = p.total
        typer.echo(
            f"{p.coming.name} ({p.coming.start} to {p.coming.end}), history "
            f"{', '.join(e.name for e in p.past)}"
        )
        line = (
            f"baseline {t.value:,.2f} [{t.low:,.2f}, {t.high:,.2f}] at {p.settings.confidence:.0%}"
        )
        if p.target is not None:
            line += (
                f"; target {p.target:,.2f}; gap {p.target - t.value:,.2f}; planned with "
                f"levers {p.planned:,.2f}"
            )
        typer.echo(line)
        typer.echo(f"saved plan {p.name} version {version} in {time.perf_counter() - t0:.1f} s")
    except (FileNotFoundError, WorkbenchError, ValueError, LookupError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def review(
    plan_name: Annotated[
        str | None, typer.Option("--plan", help="A saved plan to review (its latest version).")
    ] = None,
    campaign_id: Annotated[
        str | None, typer.Option("--campaign", help="A campaign of the campaigns table.")
    ] = None,
    table: Annotated[
        Path | None, typer.Option(help="Any experiment table (CSV, gzipped CSV or Parquet).")
    ] = None,
    arm: Annotated[str, typer.Option(help="Experiment table: the arm column.")] = "arm",
    control: Annotated[str, typer.Option(help="Experiment table: the control arm.")] = "control",
    outcomes: Annotated[
        str, typer.Option(help="Experiment table: outcome columns, comma-separated.")
    ] = "bought,gmv",
    revenue: Annotated[
        str | None, typer.Option(help="Experiment table: the revenue outcome (for ROI).")
    ] = None,
    covariate: Annotated[
        str | None, typer.Option(help="Experiment table: a pre-period column for CUPED.")
    ] = None,
    segment: Annotated[str | None, typer.Option(help="Experiment table: a segment column.")] = None,
    unit: Annotated[
        str | None, typer.Option(help="Experiment table: the unit's id column (else each row).")
    ] = None,
    holdout: Annotated[
        float | None,
        typer.Option(
            help="Experiment table: the control's designed share for the sample-ratio check "
            "(the other arms share the rest equally); default: equal shares."
        ),
    ] = None,
    confidence: Annotated[
        float | None, typer.Option(help="Level of the intervals; default: the setting.")
    ] = None,
    wait: Wait = 0.0,
) -> None:
    """Review a plan, a campaign or any experiment table: the split's check, each arm's lift
    with intervals, and (for a plan or campaign) the lift by segment stored as evidence.

    With no source, the last campaign that is over is reviewed. Exits 2 on bad input
    (one arm, an empty arm, a unit in two arms, a missing column, a confidence outside
    (0, 1), an unknown plan) with one line naming it, before anything is written.

    Example: workbench review --plan double11-2026-backtest
    """

    from workbench import review as job
    from workbench.errors import WorkbenchError

    s = _settings()
    _on_the_warehouse_file(s, "review")
    try:
        settings = s.review.updated({"confidence": confidence})
        con = _open_warehouse(s, wait)
        columns = {
            "arm": arm,
            "control": control,
            "outcomes": outcomes,
            "revenue": revenue,
            "covariate": covariate,
            "segment": segment,
            "unit": unit,
            "holdout": holdout,
        }
        rv = job.run(
            con,
            settings,
            plan_name=plan_name,
            campaign_id=campaign_id,
            table=table,
            columns=columns if table is not None else None,
            link_threshold=s.link_threshold,
        )
        typer.echo(f"{rv.name}: {rv.ratio.text()}")
        for r in rv.lifts.itertuples():
            if r.status == "ok":
                band = f"{r.lift:+.6g} [{r.lift_low:.6g}, {r.lift_high:.6g}]"
            else:
                band = f"not tested: {r.reason}"
            mark = " *" if r.significant else ""
            typer.echo(f"  {r.outcome} {r.arm} vs {r.control}: {band}{mark}")
        if rv.source != "table":
            n = job.write(con, rv)
            typer.echo(f"stored {n} rows of evidence in review_evidence")
    except (FileNotFoundError, WorkbenchError, ValueError, LookupError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _progress() -> bool:
    """Progress bars only on a terminal: none in cron mails, CI logs or piped output."""
    return sys.stdout.isatty() and sys.stderr.isatty()


def parse_parameters(args: list[str]) -> dict[str, object]:
    """``-p NAME VALUE`` pairs (as papermill takes them) to a dict of text values.

    Each VALUE stays text here; the run reads it by the type the notebook declares
    for NAME (``-p link_threshold 0.95`` becomes a float), and refuses it with one
    line naming the parameter when it cannot be read.

    Raises:
        typer.BadParameter: anything else, or a ``-p`` without NAME and VALUE.
    """
    params: dict[str, object] = {}
    i = 0
    while i < len(args):
        if args[i] not in ("-p", "--parameter"):
            raise typer.BadParameter(
                f"unexpected argument {args[i]!r}; parameters go as -p NAME VALUE"
            )
        if len(args) - i < 3:
            raise typer.BadParameter(f"{args[i]} needs a NAME and a VALUE")
        params[args[i + 1]] = args[i + 2]
        i += 3
    return params


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    notebook: Annotated[
        Path, typer.Argument(help="Notebook to execute, e.g. notebooks/01_unify.ipynb.")
    ],
    show_code: Annotated[bool, typer.Option(help="Keep input cells in the HTML.")] = False,
) -> None:
    """Execute a notebook into reports/<run-id>/ (.ipynb, .html, parameters.json).

    Parameters are given as -p NAME VALUE (repeatable); VALUE is read by the type
    the notebook declares for NAME. Parameters not given take their setting
    (lang, link_threshold), the data (as_of: the last order date) or the
    notebook's default; `papermill --help-notebook NOTEBOOK` lists them.

    Exits 2 without running when the notebook is missing or a parameter is
    unknown or has a value it does not accept (nothing is written); 1 when a
    cell fails, and the failed run's HTML is still written.

    Example: workbench run notebooks/01_unify.ipynb -p lang en -p link_threshold 0.95
    """
    params = parse_parameters(list(ctx.args))
    if not notebook.is_file():
        _fail(f"notebook {notebook} not found")
    s = _settings()
    from workbench.errors import WorkbenchError
    from workbench.report import run_notebook

    try:
        result = run_notebook(notebook, params, s, show_code=show_code, progress=_progress())
    except (FileNotFoundError, WorkbenchError) as exc:
        _fail(str(exc))
    typer.echo(f"{result.status}: {result.html}")
    typer.echo(f"index: {s.reports_dir / 'index.html'}")
    if not result.ok:
        err = result.error or {}
        typer.echo(f"error: {err.get('ename', '')}: {err.get('evalue', '')}", err=True)
        raise typer.Exit(1)


@app.command("run-all")
def run_all_cmd(
    schedule: Annotated[Path, typer.Argument(help="YAML list of {notebook, parameters}.")],
    show_code: Annotated[bool, typer.Option(help="Keep input cells in the HTML.")] = False,
) -> None:
    """Run every notebook of a schedule (for cron or Airflow); go on past failures.

    An entry whose notebook is missing or whose parameters are refused counts as
    failed, with one line on stderr, and the next entry runs. Exits 1 if any run
    failed, 2 if the schedule itself cannot be read.

    Example: workbench run-all schedule.yaml
    """
    from workbench.report import RunResult, run_all

    s = _settings()

    def show(r: RunResult) -> None:
        if r.out_dir is None:  # it never started: say why in one line
            reason = str((r.error or {}).get("evalue", ""))
            where = "" if r.notebook.name in reason else f"{r.notebook.name}: "
            typer.echo(f"error: {where}{reason}", err=True)
        else:
            typer.echo(f"{r.status:6} {r.notebook.name:20} {r.duration_s:6.1f} s  {r.html}")

    try:
        results = run_all(schedule, s, show_code=show_code, progress=_progress(), on_result=show)
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    failed = [r for r in results if not r.ok]
    typer.echo(
        f"{len(results) - len(failed)} ok, {len(failed)} failed; index: {s.reports_dir / 'index.html'}"
    )
    if failed:
        raise typer.Exit(1)


@app.command()
def demo(
    customers: Annotated[
        int, typer.Option("--customers", "-n", help="Persons to generate when data/raw is empty.")
    ] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed for the synthetic data.")] = 42,
) -> None:
    """Synthesise data if data/raw is empty, ingest it, then run every notebook built so far.

    Example: workbench demo --customers 5000
    """
    from workbench.report import run_notebook
    from workbench.synth import generate
    from workbench.unify import ingest as run_ingest

    s = _settings()
    if not s.raw_dir.exists() or not any(s.raw_dir.iterdir()):
        typer.echo(f"synthesising {customers:,} persons into {s.raw_dir} ...")
        generate(s.raw_dir, s.truth_dir, customers=customers, seed=seed, progress=_progress())
    else:
        typer.echo(f"using the exports already in {s.raw_dir}")
    from workbench.errors import WorkbenchError

    try:
        ingested = run_ingest(s.raw_dir, s, progress=_progress())
    except WorkbenchError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    loaded = [f for f in ingested.files if f.status == "loaded"]
    typer.echo(
        f"ingested {len(loaded)} files: {sum(f.rows_loaded for f in loaded):,} rows loaded, "
        f"{sum(f.rows_rejected for f in loaded):,} rejected -> {s.warehouse}"
    )
    failed = 0
    for name in NOTEBOOKS:
        nb = s.root / "notebooks" / f"{name}.ipynb"
        if not nb.exists():
            continue
        for params in DEMO_RUNS.get(name, ({},)):
            params = dict(params)
            if name == "01_unify" and s.data_dir != s.root / "data":
                params = {"raw_dir": str(s.raw_dir), "truth_dir": str(s.truth_dir)}
            result = run_notebook(nb, params, s, progress=_progress())
            failed += not result.ok
            typer.echo(f"{result.status:6} {name:12} {result.html}")
    typer.echo(f"\nopen {s.reports_dir / 'index.html'}")
    if failed:
        raise typer.Exit(1)


@app.command()
def bench(
    persons: Annotated[
        int, typer.Option("--persons", "-n", min=10, help="Persons to generate.")
    ] = 1_000_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 42,
    out: Annotated[
        Path | None, typer.Option(help="Folder of the results (default: <root>/bench/results).")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Keep the generated data here and reuse it on the next run with the same "
            "persons and seed (default: a temporary folder, removed afterwards)."
        ),
    ] = None,
    steps: Annotated[
        str, typer.Option(help="Which steps to run, comma-separated: ours, pandas, sql.")
    ] = "ours,pandas,sql",
    repeat: Annotated[
        int, typer.Option(min=1, help="Runs of each step, in turn; the fastest is reported.")
    ] = 1,
    temp_cap: Annotated[
        float, typer.Option(help="GB a DuckDB step may spill to disk before it fails.")
    ] = 20.0,
    memory_cap: Annotated[
        float | None,
        typer.Option(
            help="GB a step may use before it is stopped (default: 90% of the RAM). DuckDB "
            "itself keeps to the memory_limit setting (WORKBENCH_MEMORY_LIMIT)."
        ),
    ] = None,
) -> None:
    """Time the segment step against plain pandas and one hand-written DuckDB query.

    Generates N persons' purchases straight into Parquet and a DuckDB warehouse,
    runs each step in a fresh process on the same data, checks that the three
    give the same tier, RFM, quadrant and sensitivity counts, prints wall time,
    CPU time and peak memory with the ratios, and writes
    bench/results/<date>-<N>.json. Exits 1 when the counts differ or a step fails.
    The DuckDB steps run with the threads and memory_limit settings.

    Example: workbench bench --persons 1000000 --repeat 3   (or, under 6 GB of DuckDB memory:
    WORKBENCH_MEMORY_LIMIT=6GB workbench bench --persons 10000000)
    """
    from workbench import bench as benchmark

    s = _settings()
    chosen = tuple(x.strip() for x in steps.split(",") if x.strip())
    try:
        report = benchmark.run_benchmark(
            persons,
            seed,
            out or s.root / "bench" / "results",
            data=data,
            steps=chosen,
            repeat=repeat,
            memory_cap_gb=memory_cap,
            temp_cap_gb=temp_cap,
            progress=_progress(),
        )
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(benchmark.format_report(report))
    failed = [k for k, v in report["steps"].items() if v["status"] == "failed"]
    if report["mismatches"] or failed:
        raise typer.Exit(1)


def entry() -> None:
    app()
