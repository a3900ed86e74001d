"""Settings: paths, engine, salt, language and time zone, read once from env and ``workbench.toml``.

Precedence, highest first: environment variables (``WORKBENCH_*``), the
``[workbench]`` table of a ``workbench.toml`` file, built-in defaults.  The
file is looked up as ``$WORKBENCH_CONFIG`` if set, else ``workbench.toml``
in the project root.

The project root is ``$WORKBENCH_ROOT`` if set; else the nearest folder,
from the current directory upwards, holding a ``workbench.toml``; else the
nearest holding a ``pyproject.toml``; else the current directory.  So a
notebook whose kernel starts in ``notebooks/`` finds the same data as the
command run from the project folder.  Reading settings creates nothing.

============================  ======================  ==============================
environment variable          ``workbench.toml`` key  default
============================  ======================  ==============================
``WORKBENCH_ROOT``            (none)                  found as described above
``WORKBENCH_DATA_DIR``        ``data_dir``            ``<root>/data``
``WORKBENCH_WAREHOUSE``       ``warehouse``           ``<data_dir>/warehouse.duckdb``
``WORKBENCH_REPORTS_DIR``     ``reports_dir``         ``<root>/reports``
``WORKBENCH_ENGINE``          ``engine``              ``duckdb`` (or ``spark``)
``WORKBENCH_SPARK_MASTER``    ``spark_master``        ``local[2]``
``WORKBENCH_SALT``            ``salt``                a fixed development salt
``WORKBENCH_LANG``            ``lang``                ``zh`` (or ``en``)
``WORKBENCH_THREADS``         ``threads``             DuckDB's default
``WORKBENCH_MEMORY_LIMIT``    ``memory_limit``        DuckDB's default
``WORKBENCH_LINK_THRESHOLD``  ``link_threshold``      ``0.9``
``WORKBENCH_TIMEZONE``        ``timezone``            ``Asia/Shanghai``
============================  ======================  ==============================
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Engine = Literal["duckdb", "spark"]
Lang = Literal["zh", "en"]

ENGINES: tuple[str, ...] = ("duckdb", "spark")
LANGS: tuple[str, ...] = ("zh", "en")
DEV_SALT = "retail-workbench-development-salt"
DEFAULT_TIMEZONE = "Asia/Shanghai"

_KEYS = {
    "data_dir": "WORKBENCH_DATA_DIR",
    "warehouse": "WORKBENCH_WAREHOUSE",
    "reports_dir": "WORKBENCH_REPORTS_DIR",
    "engine": "WORKBENCH_ENGINE",
    "spark_master": "WORKBENCH_SPARK_MASTER",
    "salt": "WORKBENCH_SALT",
    "lang": "WORKBENCH_LANG",
    "threads": "WORKBENCH_THREADS",
    "memory_limit": "WORKBENCH_MEMORY_LIMIT",
    "link_threshold": "WORKBENCH_LINK_THRESHOLD",
    "timezone": "WORKBENCH_TIMEZONE",
}
ROOT_MARKERS: tuple[str, ...] = ("workbench.toml", "pyproject.toml")


@dataclass(frozen=True)
class Spec:
    """What one setting accepts: its type, its choices or range, and what it means.

    A job declares each of its settings once, as a dataclass field made by
    :func:`setting`; the parameter rules of its notebook, the checks of
    ``workbench.toml`` and the environment, and ``workbench.toml.example`` are
    all read from these specs.
    """

    kind: type
    help: str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    @property
    def accepts(self) -> str:
        """What the setting accepts, in words: ``a number above 0 (at most 20)``."""
        if self.choices:
            return ", ".join(self.choices[:-1]) + f" or {self.choices[-1]}"
        noun = {int: "a whole number", float: "a number", str: "text"}[self.kind]
        parts = []
        if self.low is not None:
            parts.append(f"{'above' if self.low_open else 'at least'} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'below' if self.high_open else 'at most'} {self.high:g}")
        return f"{noun} {' and '.join(parts)}" if parts else noun

    def read(self, value: Any) -> Any:
        """``value`` (text from the environment or a notebook, or a TOML value) as this
        setting takes it; ``ValueError`` when it does not fit."""
        if self.kind is str:
            if isinstance(value, (dict, list)):
                raise ValueError
            text = str(value).strip()
            if self.choices:
                text = text.lower()
                if text not in self.choices:
                    raise ValueError
            return text
        if isinstance(value, bool):
            raise ValueError
        if self.kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            x: float = int(str(value).strip()) if isinstance(value, str) else int(value)
        else:
            x = float(value)
            if x != x:  # NaN
                raise ValueError
        if self.low is not None and (x <= self.low if self.low_open else x < self.low):
            raise ValueError
        if self.high is not None and (x >= self.high if self.high_open else x > self.high):
            raise ValueError
        return x


def setting(
    default: Any,
    help: str,
    *,
    choices: tuple[str, ...] = (),
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> Any:
    """Declare one setting of a job: its default, its meaning and what it accepts.

    Example:
        >>> @dataclass(frozen=True)
        ... class Demo:
        ...     gap_days: int = setting(90, "days between two snapshots", low=1)
        >>> specs(Demo)["gap_days"].accepts
        'a whole number at least 1'
    """
    spec = Spec(type(default), help, choices, low, high, low_open, high_open)
    return field(default=default, metadata={"spec": spec})


def specs(cls: Any) -> dict[str, Spec]:
    """The :class:`Spec` of every setting a settings class declares, in order."""
    return {f.name: f.metadata["spec"] for f in fields(cls) if "spec" in f.metadata}


def _in_rc(default: float, help: str) -> Any:
    """A bound counted in repurchase cycles: above 0, at most 20."""
    return setting(default, help, low=0.0, low_open=True, high=20.0)


class JobSettings:
    """What every job's settings class shares: checking each setting against its
    declaration, and a copy with some changed. A subclass names its ``JOB`` (the section
    in ``workbench.toml``) and may check how its settings relate (:meth:`relations`)."""

    JOB: ClassVar[str] = ""

    def check(self) -> Self:
        """Raise ``ValueError`` naming the first setting out of its range, or the first
        relation between settings that does not hold."""
        for name, spec in specs(type(self)).items():
            value = getattr(self, name)
            try:
                spec.read(value)
            except (ValueError, TypeError):
                raise ValueError(f"{self.JOB} {name} {value!r} is not {spec.accepts}") from None
        self.relations()
        return self

    def relations(self) -> None:
        """Raise ``ValueError`` when settings that depend on each other do not fit."""

    def updated(self, values: Mapping[str, Any]) -> Self:
        """These settings with the fields named in ``values`` changed, then checked.

        Other names and ``None`` values are ignored, so a notebook can pass all
        its parameters.
        """
        known = specs(type(self))
        changes = {k: v for k, v in values.items() if k in known and v is not None}
        return replace(self, **changes).check() if changes else self  # type: ignore[type-var]


@dataclass(frozen=True)
class SegmentSettings(JobSettings):
    """The settings of segmentation (job 2): its options, declared once.

    Each field is declared with its default, its meaning and what it accepts
    (:func:`setting`); ``workbench.toml.example`` lists them
    (:func:`example_toml`). Set any in ``workbench.toml`` under
    ``[workbench.segment]``, or as ``WORKBENCH_SEGMENT_<NAME>``
    (``WORKBENCH_SEGMENT_ACTIVE_RC=2.5``); a notebook parameter of the same name
    overrides them for one report (:meth:`updated`).

    Example:
        >>> SegmentSettings().updated({"active_rc": 2.2, "lang": "en"}).active_rc
        2.2
    """

    rc_method: str = setting(
        "auto",
        "repurchase cycle: usage, inductive or auto (inductive where enough repeat "
        "customers back it)",
        choices=("usage", "inductive", "auto"),
    )
    min_repeaters: int = setting(
        100, "repeat customers auto needs before it uses the inductive RC", low=1
    )
    rc_quantile: float = setting(
        0.9,
        "inductive RC: the quantile of the repeat customers' mean intervals that is "
        "rc_multiple RC (90% buy again within 3 RC)",
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
    )
    rc_multiple: float = _in_rc(3.0, "inductive RC: how many RC the rc_quantile interval is")
    awake_rc: float = _in_rc(
        1.0, "lifecycle: highly awake up to this many RC since the last purchase"
    )
    active_rc: float = _in_rc(2.0, "lifecycle: active up to this many RC")
    light_sleep_rc: float = _in_rc(
        2.5, "lifecycle: light sleep up to this many RC (the source's bound is lost)"
    )
    lost_rc: float = _in_rc(3.0, "lifecycle: lost beyond this many RC")
    loyal_min_purchases: int = setting(
        4, "lifecycle level 3: a loyal fan buys on this many days or more", low=1
    )
    loyal_aov_quantile: float = setting(
        0.5,
        "lifecycle level 3: a loyal fan's value per purchase reaches this quantile of the "
        "active buyers'",
        low=0.0,
        high=1.0,
    )
    new_member_days: int = setting(
        90, "planning scheme: a member who joined within this many days is new", low=0
    )
    recovery_min_purchases: int = setting(
        2,
        "planning scheme: pre-churn persons with this many purchase days are high-recovery",
        low=1,
    )
    rfm_reference: str = setting(
        "mean",
        "RFM: high and low are judged against the mean or the median",
        choices=("mean", "median"),
    )
    rfm_basis: str = setting(
        "score",
        "RFM: judge the 1-5 scores or the raw values (days, purchases, money)",
        choices=("score", "raw"),
    )
    promo_high_share: float = setting(
        0.6,
        "promotion sensitivity: sensitive from this share of purchases on promotion",
        low=0.0,
        high=1.0,
    )
    promo_low_share: float = setting(
        0.2,
        "promotion sensitivity: indifferent below this share (618 and Double 11 alone take "
        "about one purchase in twelve)",
        low=0.0,
        high=1.0,
    )
    promo_deep_discount: float = setting(
        0.2,
        "promotion sensitivity: a fanatic's mean discount depth (1 - paid / list price)",
        low=0.0,
        high=1.0,
    )
    promo_fanatic_share: float = setting(
        0.8,
        "promotion sensitivity: a fanatic's share of purchases on promotion",
        low=0.0,
        high=1.0,
    )
    promo_min_orders: int = setting(
        2, "promotion sensitivity: purchases needed to judge it at all", low=1
    )
    brand: str = setting(
        "", "our brand in the product master; empty: the brand with the most order lines"
    )
    compare_days: int = setting(
        90, "migration: the earlier snapshot is this many days before as-of", low=1
    )
    alert_min_persons: int = setting(
        20, "migration alerts: cells of fewer persons raise no alert", low=1
    )

    JOB: ClassVar[str] = "segment"

    def relations(self) -> None:
        """The lifecycle bounds must come in order."""
        chain = (self.awake_rc, self.active_rc, self.light_sleep_rc, self.lost_rc)
        if not chain[0] <= chain[1] <= chain[2] <= chain[3]:
            raise ValueError(
                "segment bounds must satisfy awake_rc <= active_rc <= light_sleep_rc "
                f"<= lost_rc; got {chain}"
            )


@dataclass(frozen=True)
class PlanSettings(JobSettings):
    """The settings of campaign planning (job 3): its options, declared once.

    Set any in ``workbench.toml`` under ``[workbench.plan]``, or as
    ``WORKBENCH_PLAN_<NAME>``; a notebook parameter of the same name overrides them
    for one plan (:meth:`updated`).

    Example:
        >>> PlanSettings().updated({"estimator": "trend"}).estimator
        'trend'
    """

    promotion: str = setting(
        "双11", "the promotion planned: a festival of the campaigns table, 618 or 双11"
    )
    scheme: str = setting(
        "s2",
        "rows of the planning table: lifecycle scheme one at level l1, l2 or l3, or the "
        "planning scheme s2",
        choices=("l1", "l2", "l3", "s2"),
    )
    editions: int = setting(3, "past editions of the promotion the history holds", low=1, high=5)
    estimator: str = setting(
        "mean",
        "baseline rate and order value: the last edition, the mean of the editions or "
        "their linear trend",
        choices=("last", "mean", "trend"),
    )
    confidence: float = setting(
        0.9, "level of the baseline's intervals", low=0.5, high=1.0, high_open=True
    )
    headroom_cap: float = setting(
        0.05,
        "suggestion: the most a cell's repurchase rate may be raised, in points (0.05: 5 points)",
        low=0.0,
        high=1.0,
        low_open=True,
    )
    holdout_share: float = setting(
        0.1,
        "audience packs: the share kept out of contact as control",
        low=0.0,
        high=0.5,
        low_open=True,
    )
    arms: str = setting(
        "", "audience packs: benefit arms tried on the treated, comma-separated; empty: one"
    )
    global_control_share: float = setting(
        0.0,
        "audience packs: a share of persons kept out of every campaign for a calendar year "
        "(0: none)",
        low=0.0,
        high=0.2,
    )
    power: float = setting(
        0.8, "power of the test each cell is sized for", low=0.5, high=1.0, high_open=True
    )
    alpha: float = setting(
        0.05, "two-sided significance of that test", low=0.0, high=0.2, low_open=True
    )
    min_lift: float = setting(
        0.1,
        "the relative lift of the repurchase rate a cell's holdout should detect",
        low=0.0,
        low_open=True,
        high=10.0,
    )

    JOB: ClassVar[str] = "plan"

    def relations(self) -> None:
        """The benefit arms must be distinct, and none may be called control."""
        names = self.arm_names
        if len(set(names)) < len(names) or "control" in names:
            raise ValueError(f"plan arms {self.arms!r} must be distinct and not 'control'")

    @property
    def arm_names(self) -> tuple[str, ...]:
        """The benefit arms, in order (none: one treated group)."""
        return tuple(a.strip() for a in self.arms.split(",") if a.strip())


@dataclass(frozen=True)
class ReviewSettings(JobSettings):
    """The settings of the post-promotion review (job 4): its options, declared once.

    Set any in ``workbench.toml`` under ``[workbench.review]``, or as
    ``WORKBENCH_REVIEW_<NAME>``; a notebook parameter of the same name overrides them.

    Example:
        >>> ReviewSettings().updated({"correction": "bh"}).correction
        'bh'
    """

    confidence: float = setting(
        0.95, "level of the lifts' intervals", low=0.5, high=1.0, high_open=True
    )
    correction: str = setting(
        "holm",
        "multiple testing across arms and segments: Holm (family-wise) or "
        "Benjamini-Hochberg (false discovery rate)",
        choices=("holm", "bh"),
    )
    min_units: int = setting(100, "an arm with fewer units than this is too small to test", low=2)
    bootstrap: int = setting(
        0,
        "revenue intervals by this many bootstrap resamples (0: Welch's normal interval)",
        low=0,
        high=10000,
    )
    design_holdout: float = setting(
        0.1,
        "the holdout share a campaign was designed with (the sample-ratio check expects "
        "it; the benefit arms share the rest equally); a plan's packs use the plan's own",
        low=0.0,
        high=0.9,
        low_open=True,
    )
    segment_scheme: str = setting(
        "l1",
        "the segments the lift is broken down by: lifecycle level l1, l2 or l3, or the "
        "planning scheme s2, as of the edition's eve",
        choices=("l1", "l2", "l3", "s2"),
    )
    pre_days: int = setting(
        90,
        "CUPED: the covariate is each person's GMV in this many days before the window",
        low=1,
        high=730,
    )

    JOB: ClassVar[str] = "review"


JOB_SETTINGS: dict[str, type] = {
    "segment": SegmentSettings,
    "plan": PlanSettings,
    "review": ReviewSettings,
}
"""Each job's settings class, by its section in :class:`Settings` and ``workbench.toml``."""


def job_keys(job: str) -> dict[str, str]:
    """The environment variable of each setting of ``job``: ``WORKBENCH_PLAN_ESTIMATOR``."""
    return {name: f"WORKBENCH_{job.upper()}_{name.upper()}" for name in specs(JOB_SETTINGS[job])}


SEGMENT_KEYS: dict[str, str] = job_keys("segment")


EXAMPLE_HEAD = """\
# Copy to workbench.toml (or point WORKBENCH_CONFIG at it). Environment
# variables WORKBENCH_<KEY> override these; relative paths are taken from the
# project root (WORKBENCH_ROOT, else the nearest folder up from the current
# one that holds a workbench.toml). `workbench config --example` writes this file.
[workbench]
data_dir = "data"
warehouse = "data/warehouse.duckdb"
reports_dir = "reports"
engine = "duckdb"          # or "spark"
spark_master = "local[2]"  # used when engine = "spark"
salt = "change-me"         # HMAC key for phone numbers; keep it secret
lang = "zh"                # report language: zh or en
# threads = 2
# memory_limit = "8GB"
# link_threshold = 0.9   # match probability for linking accounts on weak evidence
timezone = "Asia/Shanghai"  # time zone of the times in reports, an IANA name
"""


JOB_TITLES: dict[str, str] = {
    "segment": "Segmentation (job 2)",
    "plan": "Campaign planning (job 3)",
    "review": "Post-promotion review (job 4)",
}


def example_toml() -> str:
    """The text of ``workbench.toml.example``: every setting with its default, and for
    each job setting what it means and what it accepts, read from its declaration."""
    lines = [EXAMPLE_HEAD.rstrip("\n")]
    for job, cls in JOB_SETTINGS.items():
        lines += [
            "",
            f"# {JOB_TITLES[job]}, with the defaults; WORKBENCH_{job.upper()}_<NAME> overrides",
            "# each, and a notebook parameter of the same name overrides both.",
            f"[workbench.{job}]",
        ]
        defaults = cls()
        for name, spec in specs(cls).items():
            value = getattr(defaults, name)
            text = f'"{value}"' if isinstance(value, str) else repr(value)
            lines.append(f"# {spec.help}; {spec.accepts}")
            lines.append(f"{name} = {text}")
    return "\n".join(lines) + "\n"


def _job_settings(
    job: str,
    table: Mapping[str, Any],
    env: Mapping[str, str],
    config_file: Path,
    source: dict[str, str],
) -> Any:
    """The settings of ``job`` from its ``workbench.toml`` table and the environment."""
    keys = job_keys(job)
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise ValueError(
            f"{config_file}: unknown {job} setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(keys)}"
        )
    cls = JOB_SETTINGS[job]
    declared = specs(cls)
    values: dict[str, Any] = {}
    for name, var in keys.items():
        if env.get(var):
            raw, where = env[var], f"env {var}"
        elif name in table:
            raw, where = table[name], str(config_file)
        else:
            continue
        spec = declared[name]
        try:
            values[name] = spec.read(raw)
        except (ValueError, TypeError):
            raise ValueError(f"{job} {name} {raw!r} ({where}) is not {spec.accepts}") from None
        source[f"{job}.{name}"] = where
    return cls(**values).check()


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build one with :func:`load_settings`.

    Attributes:
        root: project root; relative paths below are resolved against it.
        data_dir: holds ``raw/`` (exports as they come) and ``truth/``.
        warehouse: the DuckDB file the engine opens.
        reports_dir: rendered runs and ``index.html``.
        engine: ``duckdb`` (embedded, default) or ``spark``.
        spark_master: Spark master URL when ``engine == "spark"``.
        salt: secret for the HMAC that hashes phone numbers at ingestion.
        lang: language of labels in reports, ``zh`` or ``en``.
        threads: DuckDB worker threads, ``None`` for DuckDB's default.
        memory_limit: DuckDB memory limit such as ``"8GB"``, ``None`` for default.
        link_threshold: match probability above which ingestion links two accounts
            with only weak evidence (masked phone, name, address) into one person.
        timezone: IANA time zone in which reports show times, such as ``Asia/Shanghai``.
        segment: the bounds of segmentation (:class:`SegmentSettings`).
        plan: the options of campaign planning (:class:`PlanSettings`).
        review: the options of the post-promotion review (:class:`ReviewSettings`).
        source: where each non-default value came from (for ``workbench --help``).
    """

    root: Path
    data_dir: Path
    warehouse: Path
    reports_dir: Path
    engine: Engine = "duckdb"
    spark_master: str = "local[2]"
    salt: str = DEV_SALT
    lang: Lang = "zh"
    threads: int | None = None
    memory_limit: str | None = None
    link_threshold: float = 0.9
    timezone: str = DEFAULT_TIMEZONE
    segment: SegmentSettings = field(default_factory=SegmentSettings)
    plan: PlanSettings = field(default_factory=PlanSettings)
    review: ReviewSettings = field(default_factory=ReviewSettings)
    source: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def truth_dir(self) -> Path:
        return self.data_dir / "truth"

    @property
    def uses_dev_salt(self) -> bool:
        return self.salt == DEV_SALT

    @property
    def tzinfo(self) -> ZoneInfo:
        """The time zone of :attr:`timezone`."""
        return ZoneInfo(self.timezone)

    def to_env(self) -> dict[str, str | None]:
        """Every setting as the environment variable that sets it, plus ``WORKBENCH_ROOT``.

        Settings left to a backend's default (``threads``, ``memory_limit``) map to
        ``None``. :func:`load_settings` on the non-``None`` variables gives these
        settings back, which is how a notebook kernel receives them.

        Example:
            >>> s = load_settings(root="/tmp/project", env={})
            >>> s.to_env()["WORKBENCH_LINK_THRESHOLD"], s.to_env()["WORKBENCH_THREADS"]
            ('0.9', None)
        """
        env: dict[str, str | None] = {"WORKBENCH_ROOT": str(self.root)}
        for key, var in _KEYS.items():
            value = getattr(self, key)
            env[var] = None if value is None else str(value)
        for job in JOB_SETTINGS:
            for name, var in job_keys(job).items():
                env[var] = str(getattr(getattr(self, job), name))
        return env

    def with_(self, **changes: Any) -> Settings:
        """Return a copy with some fields changed (paths are made absolute)."""
        for key in ("data_dir", "warehouse", "reports_dir"):
            if key in changes:
                changes[key] = _resolve(self.root, changes[key])
        return replace(self, **changes)


def _resolve(root: Path, value: str | os.PathLike[str]) -> Path:
    if str(value) == ":memory:":  # DuckDB's in-memory database, not a file
        return Path(":memory:")
    path = Path(value).expanduser()
    return path if path.is_absolute() else (root / path)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc}); fix or remove the file") from exc
    table = doc.get("workbench", doc)
    unknown = sorted(set(table) - set(_KEYS) - set(JOB_SETTINGS))
    if unknown:
        raise ValueError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}"
        )
    return dict(table)


def find_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The project root seen from ``start`` (the current directory by default).

    The nearest of ``start`` and its parents holding a ``workbench.toml``; else
    the nearest holding a ``pyproject.toml``; else ``start`` itself.

    Example:
        >>> find_root("/tmp/project/notebooks")  # doctest: +SKIP
        PosixPath('/tmp/project')
    """
    here = Path(start or Path.cwd()).expanduser().resolve()
    for marker in ROOT_MARKERS:
        for folder in (here, *here.parents):
            if (folder / marker).is_file():
                return folder
    return here


def load_settings(
    root: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Read settings from the environment and ``workbench.toml``.

    Parameters:
        root: project root; defaults to ``$WORKBENCH_ROOT``, else :func:`find_root`.
        env: environment mapping, ``os.environ`` by default (tests pass their own).

    Returns:
        A validated :class:`Settings`.

    Raises:
        ValueError: an unknown engine, language or time zone, a non-integer thread
            count, a link threshold outside (0, 1), or an unknown key in ``workbench.toml``.

    Example:
        >>> s = load_settings(root="/tmp/project", env={"WORKBENCH_ENGINE": "duckdb"})
        >>> s.warehouse.name
        'warehouse.duckdb'
    """
    env = os.environ if env is None else env
    root_path = Path(root or env.get("WORKBENCH_ROOT") or find_root()).expanduser().resolve()
    config_file = Path(env.get("WORKBENCH_CONFIG") or root_path / "workbench.toml")
    file_values: dict[str, Any] = {}
    if config_file.is_file():
        file_values = _read_toml(config_file)
    elif "WORKBENCH_CONFIG" in env:
        raise ValueError(f"WORKBENCH_CONFIG points to {config_file}, which does not exist")

    values: dict[str, Any] = {}
    source: dict[str, str] = {}
    for key, var in _KEYS.items():
        if env.get(var):
            values[key], source[key] = env[var], f"env {var}"
        elif key in file_values:
            values[key], source[key] = file_values[key], str(config_file)

    engine = str(values.get("engine", "duckdb")).lower()
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r} ({source['engine']}) is not one of {ENGINES}")
    lang = str(values.get("lang", "zh")).lower()
    if lang not in LANGS:
        raise ValueError(f"lang {lang!r} ({source['lang']}) is not one of {LANGS}")
    threads: int | None = None
    if "threads" in values:
        try:
            threads = int(values["threads"])
        except ValueError as exc:
            raise ValueError(
                f"threads {values['threads']!r} ({source['threads']}) is not an integer"
            ) from exc

    link_threshold = 0.9
    if "link_threshold" in values:
        try:
            link_threshold = float(values["link_threshold"])
        except ValueError:
            link_threshold = -1.0
        if not 0.0 < link_threshold < 1.0:
            raise ValueError(
                f"link_threshold {values['link_threshold']!r} ({source['link_threshold']}) "
                "is not a probability between 0 and 1"
            )

    timezone = str(values.get("timezone", DEFAULT_TIMEZONE))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(
            f"timezone {timezone!r} ({source['timezone']}) is not a known time zone; "
            f"use an IANA name such as {DEFAULT_TIMEZONE!r} or 'Europe/Berlin'"
        ) from exc

    data_dir = _resolve(root_path, values.get("data_dir", "data"))
    return Settings(
        root=root_path,
        data_dir=data_dir,
        warehouse=_resolve(root_path, values.get("warehouse", data_dir / "warehouse.duckdb")),
        reports_dir=_resolve(root_path, values.get("reports_dir", "reports")),
        engine=engine,  # type: ignore[arg-type]
        spark_master=str(values.get("spark_master", "local[2]")),
        salt=str(values.get("salt", DEV_SALT)),
        lang=lang,  # type: ignore[arg-type]
        threads=threads,
        memory_limit=values.get("memory_limit"),
        link_threshold=link_threshold,
        timezone=timezone,
        segment=_job_settings(
            "segment", file_values.get("segment") or {}, env, config_file, source
        ),
        plan=_job_settings("plan", file_values.get("plan") or {}, env, config_file, source),
        review=_job_settings("review", file_values.get("review") or {}, env, config_file, source),
        source=source,
    )
