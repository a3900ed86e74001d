"""The segment benchmark: our segment step against plain pandas and one hand-written SQL query.

:func:`run_benchmark` generates N synthetic persons' purchases straight into
Parquet and a DuckDB warehouse (:mod:`~workbench.bench.generate`, from the world
of :mod:`~workbench.bench.world`), then runs, each in a fresh Python process on
the same data (:mod:`~workbench.bench.steps`):

- ``ours``: the segment step's snapshot expression written to the warehouse by
  ``workbench.segment.write``;
- ``pandas``: the same rules as an analyst would write them in plain pandas
  (:mod:`~workbench.bench.pandas_reference`), from the Parquet files;
- ``sql``: one hand-written DuckDB statement (:mod:`~workbench.bench.sql_reference`),
  materialised as a table of the warehouse.

The two references write the rules again, independently, with every bound from
one :class:`~workbench.config.SegmentSettings` and the names of tiers and segments
from their one definition (:mod:`~workbench.bench.names`).

Each step's wall time is measured inside its process from just before the
step to just after its result is materialised (imports and interpreter start
left out); its peak memory is the resident set high-water mark of that process,
read with ``os.wait4`` when it ends (:mod:`~workbench.bench.harness`; so it
includes the interpreter and the libraries, about 0.2 GB, reported apart as
``baseline_rss_mb``). The three results must give the same counts of every
tier, RFM segment, quadrant and promotion sensitivity class; a mismatch is
printed (:func:`format_report`) and makes the run fail.

Imported only by the CLI (``workbench bench``) and its test.
"""

from workbench.bench.report import format_report
from workbench.bench.run import run_benchmark

__all__ = ["format_report", "run_benchmark"]
