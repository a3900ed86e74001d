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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
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
class SegmentSettings:
    """The bounds of segmentation (job 2), with the seed's defaults: their one source.

    Set any of them in ``workbench.toml`` under ``[workbench.segment]`` (or
    ``[segment]``), or as ``WORKBENCH_SEGMENT_<NAME>`` (``WORKBENCH_SEGMENT_ACTIVE_RC=2.5``).
    A notebook parameter of the same name overrides them for one report.

    Attributes:
        rc_method: ``usage``, ``inductive`` or ``auto`` (inductive where enough
            repeat customers back it).
        min_repeaters: repeat customers ``auto`` needs before it uses the inductive RC.
        rc_quantile, rc_multiple: the inductive RC is the ``rc_quantile`` of the repeat
            customers' mean intervals divided by ``rc_multiple`` (p90 / 3).
        awake_rc, active_rc, light_sleep_rc, lost_rc: lifecycle bounds in RC units:
            highly awake up to 1, active up to 2, light sleep up to 2.5, lost beyond 3.
        loyal_min_purchases: purchase days a loyal fan (忠粉) has at least.
        loyal_aov_quantile: quantile of the active buyers' value per purchase a
            loyal fan reaches at least.
        new_member_days: planning scheme: a member who joined within this many days is new.
        recovery_min_purchases: planning scheme: pre-churn persons with this many
            purchase days or more are high-recovery.
        rfm_reference: ``mean`` or ``median``: what high and low are judged against.
        rfm_basis: ``score`` (the 1-5 scores) or ``raw`` (days, purchases, yuan).
        promo_high_share: share of purchases on promotion (in a burst, or with a
            discount or coupon) from which a buyer is sensitive: most of them.
        promo_low_share: share below which a buyer is indifferent; 618 and Double 11
            alone take about one purchase in twelve of a buyer who ignores them.
        promo_deep_discount: mean discount depth (1 - paid / list price) a fanatic
            reaches: a fifth off on average, beyond what an everyday coupon gives.
        promo_fanatic_share: share of purchases on promotion a fanatic reaches: four in five.
        promo_min_orders: purchases needed to judge promotion sensitivity at all.
        brand: our brand in the product master; empty for the brand with the most lines.
        compare_days: the migration's earlier snapshot is this many days before as-of.
        alert_min_persons: migration cells of fewer persons raise no alert.
    """

    rc_method: str = "auto"
    min_repeaters: int = 100
    rc_quantile: float = 0.9
    rc_multiple: float = 3.0
    awake_rc: float = 1.0
    active_rc: float = 2.0
    light_sleep_rc: float = 2.5
    lost_rc: float = 3.0
    loyal_min_purchases: int = 4
    loyal_aov_quantile: float = 0.5
    new_member_days: int = 90
    recovery_min_purchases: int = 2
    rfm_reference: str = "mean"
    rfm_basis: str = "score"
    promo_high_share: float = 0.6
    promo_low_share: float = 0.2
    promo_deep_discount: float = 0.2
    promo_fanatic_share: float = 0.8
    promo_min_orders: int = 2
    brand: str = ""
    compare_days: int = 90
    alert_min_persons: int = 20

    def check(self) -> SegmentSettings:
        """Raise ``ValueError`` naming the first setting out of its range."""
        choices = {
            "rc_method": ("usage", "inductive", "auto"),
            "rfm_reference": ("mean", "median"),
            "rfm_basis": ("score", "raw"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"segment {name} {getattr(self, name)!r} is not one of {allowed}")
        chain = (self.awake_rc, self.active_rc, self.light_sleep_rc, self.lost_rc)
        if not 0 < chain[0] <= chain[1] <= chain[2] <= chain[3]:
            raise ValueError(
                "segment bounds must satisfy 0 < awake_rc <= active_rc <= light_sleep_rc "
                f"<= lost_rc; got {chain}"
            )
        shares: tuple[str, ...] = ("loyal_aov_quantile", "promo_high_share", "promo_low_share")
        shares += ("promo_deep_discount", "promo_fanatic_share")
        for name in shares:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"segment {name} {getattr(self, name)} is not between 0 and 1")
        return self


SEGMENT_KEYS: dict[str, str] = {
    name: f"WORKBENCH_SEGMENT_{name.upper()}" for name in SegmentSettings.__dataclass_fields__
}


def _segment_settings(
    table: Mapping[str, Any], env: Mapping[str, str], config_file: Path, source: dict[str, str]
) -> SegmentSettings:
    unknown = sorted(set(table) - set(SEGMENT_KEYS))
    if unknown:
        raise ValueError(
            f"{config_file}: unknown segment setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(SEGMENT_KEYS)}"
        )
    defaults = SegmentSettings()
    values: dict[str, Any] = {}
    for name, var in SEGMENT_KEYS.items():
        if env.get(var):
            raw, where = env[var], f"env {var}"
        elif name in table:
            raw, where = table[name], str(config_file)
        else:
            continue
        kind = type(getattr(defaults, name))
        try:
            values[name] = kind(raw) if kind is not int else int(str(raw))
        except ValueError:
            raise ValueError(
                f"segment {name} {raw!r} ({where}) is not {'a number' if kind is not str else 'text'}"
            ) from None
        source[f"segment.{name}"] = where
    return SegmentSettings(**values).check()


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
        for name, var in SEGMENT_KEYS.items():
            env[var] = str(getattr(self.segment, name))
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
    unknown = sorted(set(table) - set(_KEYS) - {"segment"})
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
        segment=_segment_settings(file_values.get("segment") or {}, env, config_file, source),
        source=source,
    )
