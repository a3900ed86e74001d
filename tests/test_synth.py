"""Synthetic exports: deterministic, in each platform's real format, consistent with the truth."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.synth import SynthResult, generate
from workbench.synth.world import CATEGORIES, Planted

MASKED = re.compile(r"^1\d{2}\*{4}\d{4}$")
FULL = re.compile(r"^1\d{10}$")


def _digest(root: Path) -> dict[str, str]:
    """sha256 of every file's bytes, by its path below ``root``."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _cli(args: list[str], root: Path, hash_seed: str = "0") -> tuple[int, str, str]:
    """``workbench ARGS`` in a fresh process, its output captured (so not a terminal).

    Returns the exit code, stdout and stderr, decoded as written (a ``\\r`` stays one).
    """
    env = {**os.environ, "WORKBENCH_ROOT": str(root), "PYTHONHASHSEED": hash_seed}
    env.pop("WORKBENCH_CONFIG", None)
    r = subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        cwd=root,
        env=env,
        capture_output=True,
        timeout=600,
    )
    return r.returncode, r.stdout.decode("utf-8"), r.stderr.decode("utf-8")


def _no_progress_bar(text: str) -> None:
    for mark in ("it/s", "persons/s", "%|", "\r"):
        assert mark not in text, (mark, text[-500:])


@pytest.fixture(scope="module")
def synth_twice(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    """``workbench synth -n 800 --seed 11`` run twice, one process after the other
    and with different string hashing; each run's folder and all it printed."""
    runs = []
    for hash_seed in ("1", "2"):
        root = tmp_path_factory.mktemp(f"synth_cli_{hash_seed}")
        code, out, err = _cli(["synth", "--customers", "800", "--seed", "11"], root, hash_seed)
        assert code == 0, err
        runs.append((root / "data", out + err))
    return runs


def test_the_same_seed_gives_byte_identical_files(synth_twice: list[tuple[Path, str]]) -> None:
    (a, _), (b, _) = synth_twice
    da, db = _digest(a), _digest(b)
    kinds = {Path(p).suffix for p in da}
    assert {".csv", ".xlsx", ".jsonl", ".json", ".parquet"} <= kinds, kinds
    assert any(p.startswith("truth/") for p in da)
    assert da.keys() == db.keys()
    assert [p for p in da if da[p] != db[p]] == []


def test_synth_off_a_terminal_draws_no_progress_bar(synth_twice: list[tuple[Path, str]]) -> None:
    for _, printed in synth_twice:
        assert "800 persons" in printed  # the summary is still printed
        _no_progress_bar(printed)


@pytest.mark.slow
def test_demo_off_a_terminal_draws_no_progress_bar(tmp_path: Path) -> None:
    # A project without notebooks: demo synthesises and ingests, and has nothing to run.
    code, out, err = _cli(["demo", "--customers", "800", "--seed", "11"], tmp_path)
    assert code == 0, err
    assert "synthesising 800 persons" in out
    assert (tmp_path / "data" / "warehouse.duckdb").is_file()
    _no_progress_bar(out + err)


def _csv(path: Path, encoding: str) -> pd.DataFrame:
    return pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False)


def _all(raw: Path, pattern: str, encoding: str) -> pd.DataFrame:
    return pd.concat([_csv(p, encoding) for p in sorted(raw.glob(pattern))], ignore_index=True)


@pytest.mark.slow
def test_same_seed_same_files_other_seed_other_files(
    tmp_path: Path, small_synth: SynthResult
) -> None:
    a = generate(
        tmp_path / "a" / "raw",
        tmp_path / "a" / "truth",
        customers=3000,
        seed=7,
        batch_size=1500,
        progress=False,
    )
    da = _digest(a.raw_dir)
    assert da == _digest(small_synth.raw_dir)
    b = generate(
        tmp_path / "b" / "raw",
        tmp_path / "b" / "truth",
        customers=3000,
        seed=8,
        batch_size=1500,
        progress=False,
    )
    db = _digest(b.raw_dir)
    assert set(da) - set(db) <= {p for p in da if "douyin" in p}  # same file layout
    assert sum(da[k] != db.get(k) for k in da) > len(da) * 0.9


def test_every_platform_and_format_is_written(small_synth: SynthResult) -> None:
    raw = small_synth.raw_dir
    names = {p.relative_to(raw).as_posix() for p in raw.rglob("*") if p.is_file()}
    for pattern in (
        r"tmall/ExportOrderList_\d{4}H\d\.csv",
        r"tmall/ExportOrderList_items_\d{4}H\d\.csv",
        r"jd/jd_orders_\d{4}\.xlsx",
        r"pdd/pdd_orders_\d{4}Q\d\.csv",
        r"youzan/youzan_orders_\d{4}\.csv",
        r"youzan/youzan_trades_\d{4}H\d\.jsonl",
        r"douyin/douyin_orders_\d{4}Q\d\.csv",
        r"pos/pos_sales_\d{4}\.csv",
        r"crm/members\.csv",
        r"catalog/products\.csv",
        r"campaign/(campaigns|campaign_audience|touches|coupons)\.csv",
    ):
        assert any(re.fullmatch(pattern, n) for n in names), pattern
    assert not any(n.startswith(".staging") for n in names)


def test_tmall_is_gbk_with_wrapped_ids_and_masked_phones(small_synth: SynthResult) -> None:
    path = sorted((small_synth.raw_dir / "tmall").glob("ExportOrderList_2024H1.csv"))[0]
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    first = path.read_bytes().split(b"\r\n")[1].decode("gbk")
    assert re.match(r'^="\d{19}",', first)  # written raw, as Taobao does, not CSV-quoted
    df = _csv(path, "gbk")
    assert df["订单编号"].str.fullmatch(r'="\d{19}"').all()
    assert df["联系手机"].str.lstrip("'").str.match(MASKED).all()
    assert set(df["订单状态"]) <= {"交易成功", "交易关闭"}
    assert pd.to_datetime(df["订单创建时间"], format="%Y-%m-%d %H:%M:%S").notna().all()
    items = _csv(path.with_name("ExportOrderList_items_2024H1.csv"), "gbk")
    assert set(items["订单编号"]) <= set(df["订单编号"])


def test_jd_xlsx_reads_back_with_typed_cells(small_synth: SynthResult) -> None:
    path = small_synth.raw_dir / "jd" / "jd_orders_2024.xlsx"
    df = pd.read_excel(path, dtype={"订单号": str})
    assert df["订单号"].str.fullmatch(r"3\d{11}").all()
    assert pd.api.types.is_datetime64_any_dtype(df["下单时间"])
    assert df["联系电话"].str.match(MASKED).all()
    assert df["下单帐号"].str.startswith("jd_").all()


def test_pdd_douyin_youzan_pos_quirks(small_synth: SynthResult) -> None:
    raw = small_synth.raw_dir
    pdd = _all(raw, "pdd/*.csv", "utf-8-sig")
    assert pdd["订单号"].str.fullmatch(r"\d{6}-\d{15}").all()
    assert pdd["手机"].str.match(MASKED).all()
    assert pd.to_datetime(pdd["成交时间"], format="%Y/%m/%d %H:%M").notna().all()

    dy_path = sorted((raw / "douyin").glob("*.csv"))[0]
    assert not dy_path.read_bytes().startswith(b"\xef\xbb\xbf")
    dy = _all(raw, "douyin/*.csv", "utf-8")
    assert dy["主订单编号"].str.fullmatch(r"\t69\d{17}").all()  # tab-padded ids
    assert dy.drop_duplicates()["子订单编号"].is_unique  # repeats are only export overlap
    assert set(dy["流量来源"]) <= {"直播", "短视频", "商品卡", "搜索"}

    yz_csv = sorted((raw / "youzan").glob("*.csv"))[0]
    assert yz_csv.read_bytes().startswith(b"\xef\xbb\xbf")
    assert _csv(yz_csv, "utf-8-sig")["买家手机号"].str.match(FULL).all()
    trade = json.loads(
        sorted((raw / "youzan").glob("*.jsonl"))[0].read_text(encoding="utf-8").splitlines()[0]
    )
    assert trade["created"].endswith("+08:00")
    assert FULL.match(trade["buyer_info"]["buyer_phone"])
    assert trade["orders"] and {"oid", "outer_sku_id", "num", "payment"} <= set(trade["orders"][0])

    pos = _all(raw, "pos/*.csv", "gbk")
    assert pos["实收金额"].str.fullmatch(r"￥-?[\d,]+\.\d{2}").all()
    assert pd.to_datetime(pos["交易时间"], format="%Y%m%d%H%M%S").notna().all()
    refunds = pos[pos["交易类型"] == "退货"]
    assert len(refunds) and set(refunds["原小票号"]) <= set(pos["小票号"])
    members = pos[pos["会员卡号"] != ""]
    assert members["会员手机号"].str.match(FULL).all()
    assert (pos.loc[pos["会员卡号"] == "", "会员手机号"] == "").all()


def test_test_orders_refunds_cancellations_and_overlap(small_synth: SynthResult) -> None:
    raw = small_synth.raw_dir
    for path in sorted((raw / "tmall").glob("ExportOrderList_2*.csv")):
        df = _csv(path, "gbk")
        # Three per export period; the overlap may carry the previous period's too.
        assert (df["买家实际支付金额"] == "0.01").sum() >= 3, path.name
    tm = _all(raw, "tmall/ExportOrderList_2*.csv", "gbk")
    assert (tm["订单关闭原因"] == "退款").any() and (tm["订单关闭原因"] == "买家不想买了").any()
    # Consecutive half-year exports overlap by ten days: some orders appear twice.
    dup = tm["订单编号"].duplicated(keep=False)
    assert dup.any()
    assert tm[dup].duplicated().sum() == dup.sum() / 2  # identical rows, not conflicting ones
    pdd = _all(raw, "pdd/*.csv", "utf-8-sig")
    assert pdd["订单号"].duplicated().any()


def test_truth_is_consistent_with_the_exports(small_synth: SynthResult) -> None:
    raw, truth = small_synth.raw_dir, small_synth.truth_dir
    orders = pd.read_parquet(truth / "orders")
    persons = pd.read_parquet(truth / "persons")
    accounts = pd.read_parquet(truth / "accounts")
    assert len(persons) == 3000 and persons["person_id"].is_unique
    real = orders[~orders["is_test"]]
    assert real["person_id"].isin(persons["person_id"]).all()
    assert (orders.loc[orders["is_test"], "person_id"] == "").all()
    assert orders[["platform", "order_id"]].drop_duplicates().shape[0] == len(orders)
    # About 3% of orders ship to someone else, who is a person of the truth too.
    gifts = real["receiver_person_id"] != real["person_id"]
    assert gifts.mean() == pytest.approx(Planted().p_gift_receiver, abs=0.01)
    assert real["receiver_person_id"].isin(persons["person_id"]).all()

    # Every exported order id is in the truth, under its platform.
    tm = _all(raw, "tmall/ExportOrderList_2*.csv", "gbk")
    ids = set(tm["订单编号"].str.slice(2, -1))
    assert ids == set(orders.loc[orders.platform == "tmall", "order_id"])
    dy = _all(raw, "douyin/*.csv", "utf-8")
    assert set(dy["主订单编号"].str.strip()) == set(
        orders.loc[orders.platform == "douyin", "order_id"]
    )

    # A Tmall nickname belongs to one person, and the truth says which.
    real_tm = tm[tm["买家会员名"] != "清溪测试账号"].assign(
        order_id=tm["订单编号"].str.slice(2, -1)
    )
    joined = real_tm.merge(orders[["order_id", "person_id"]], on="order_id")
    nick_owner = accounts[accounts.platform == "tmall"].set_index("account_key")["person_id"]
    assert (joined["买家会员名"].map(nick_owner) == joined["person_id"]).all()

    # CRM members are the truth's members; campaign members exist in the CRM.
    crm = _csv(raw / "crm" / "members.csv", "utf-8-sig")
    assert set(crm["会员编号"]) == set(persons.loc[persons.is_member, "member_id"])
    assert crm["手机号"].str.match(FULL).all() and crm["手机号"].is_unique
    audience = _csv(raw / "campaign" / "campaign_audience.csv", "utf-8-sig")
    assert set(audience["会员编号"]) <= set(crm["会员编号"])


def test_planted_parameters_are_recorded_and_realised(small_synth: SynthResult) -> None:
    truth = small_synth.truth_dir
    params = json.loads((truth / "parameters.json").read_text(encoding="utf-8"))
    rc = {c["code"]: c["rc_days"] for c in params["categories"]}
    assert rc == {"laundry": 60.0, "dishwasher": 100.0, "handwash": 45.0}
    assert rc == {c.code: c.pack_units / c.daily_usage for c in CATEGORIES}
    # The usage method can be worked from the exported product master alone.
    master = pd.read_csv(small_synth.raw_dir / "catalog" / "products.csv", encoding="utf-8-sig")
    main = master[master["商品编码"].isin(["QX-LD-3000", "QX-DW-50", "QX-HW-500"])]
    assert sorted(main["每件可用次数"] / main["建议日用量(次/天)"]) == [45.0, 60.0, 100.0]
    # Person-level cycles: median near RC, 90th percentile near 3 RC (the inductive rule).
    prc = pd.read_parquet(truth / "person_rc")
    for code, days in rc.items():
        q = prc.loc[prc.category == code, "rc_days"].quantile([0.5, 0.9])
        assert q[0.5] == pytest.approx(days, rel=0.15)
        assert q[0.9] == pytest.approx(3 * days, rel=0.15)

    # Holdout close to the planted 10% of each audience.
    aud = pd.read_parquet(truth / "campaign_audience")
    share = (aud["group"] == "control").groupby(aud["campaign_id"]).mean()
    assert share.between(0.07, 0.13).all()
    assert (aud.loc[aud.group == "control", "planted_uplift"] == 0).all()
    planted = Planted()
    treated = aud[aud.group == "treatment"]
    expect = [planted.uplift[s][a] for s, a in zip(treated["segment"], treated["arm"], strict=True)]
    assert np.allclose(treated["planted_uplift"], expect)

    # The Douyin new-buyer share in summary.json is what the truth tables say.
    summary = json.loads((truth / "summary.json").read_text(encoding="utf-8"))
    persons = pd.read_parquet(truth / "persons")
    buyers = persons["first_douyin_date"].notna()
    assert summary["douyin_buyers"] == buyers.sum()
    assert summary["douyin_new_share"] == pytest.approx(persons.loc[buyers, "new_on_douyin"].mean())
    assert 0.6 < summary["douyin_new_share"] < 0.95
    # Promotion classes drawn near their planted shares.
    shares = persons["promo_class"].value_counts(normalize=True)
    for c in params["promo_classes"]:
        assert shares[c["code"]] == pytest.approx(c["share"], abs=0.03)


def test_customers_leave_after_a_number_of_their_own_cycles(small_synth: SynthResult) -> None:
    truth = small_synth.truth_dir
    start = pd.Timestamp(json.loads((truth / "parameters.json").read_text("utf-8"))["start"])
    persons = pd.read_parquet(truth / "persons")
    prc = pd.read_parquet(truth / "person_rc").merge(
        persons[["person_id", "existing", "one_off", "acquisition_date"]], on="person_id"
    )
    rc = {c.code: c.rc_days for c in CATEGORIES}
    # New customers who are not one-off buyers, acquired in the window's first year.
    new = prc[
        ~prc["existing"]
        & ~prc["one_off"]
        & (prc["acquisition_date"] < start + pd.Timedelta(365, "D"))
    ]
    # In units of each person's own cycle, the lifetime does not depend on the cycle's
    # length: the longest and the shortest quarter of person cycles (each in units of
    # its category's RC) live about as many cycles. A lifetime in days whatever the
    # cycle would give the longest quarter about a seventh of the shortest's.
    cycles = (new["churn_date"] - new["acquisition_date"]).dt.days / new["rc_days"]
    rel = new["rc_days"] / new["category"].map(rc)
    short, long = rel <= rel.quantile(0.25), rel >= rel.quantile(0.75)
    ratio = cycles[long].median() / cycles[short].median()
    assert 0.75 < ratio < 1.33, ratio
