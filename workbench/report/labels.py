"""Labels shown to people, in Chinese and English, from one table.

Tables and columns stay in English snake_case; what a report shows comes from
here, so one ``lang`` parameter switches a whole report.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

LABELS: dict[str, tuple[str, str]] = {
    # the warehouse's state
    "warehouse_incomplete": (
        "数据仓库不完整：上一次导入未完成，人员未覆盖全部订单；请重新运行 workbench ingest。",
        "The warehouse is incomplete: the last ingestion stopped before it finished, so "
        "persons do not cover all its orders; run `workbench ingest` again.",
    ),
    "warehouse_no_persons": (
        "数据仓库中还没有人员：没有一次导入完成了身份识别；请重新运行 workbench ingest。",
        "The warehouse has no persons: no ingestion has finished resolving identities; "
        "run `workbench ingest` again.",
    ),
    "warehouse_missing": (
        "还没有数据仓库：请先运行 workbench ingest。",
        "There is no warehouse yet: run `workbench ingest` first.",
    ),
    # platforms
    "tmall": ("天猫", "Tmall"),
    "jd": ("京东", "JD"),
    "pdd": ("拼多多", "Pinduoduo"),
    "youzan": ("有赞", "Youzan"),
    "douyin": ("抖店", "Douyin"),
    "pos": ("门店", "Store POS"),
    "crm": ("会员系统", "Member CRM"),
    "campaign": ("营销活动", "Campaigns"),
    "catalog": ("商品主数据", "Product master"),
    # common columns
    "platform": ("平台", "Platform"),
    "file": ("文件", "File"),
    "format": ("格式", "Format"),
    "encoding": ("编码", "Encoding"),
    "rows": ("行数", "Rows"),
    "bytes": ("字节数", "Bytes"),
    "size_mb": ("大小(MB)", "Size (MB)"),
    "files": ("文件数", "Files"),
    "status": ("状态", "Status"),
    "notebook": ("笔记本", "Notebook"),
    "parameters": ("参数", "Parameters"),
    "started": ("开始时间", "Started"),
    "duration": ("耗时", "Duration"),
    "report": ("报告", "Report"),
    "ok": ("成功", "ok"),
    "failed": ("失败", "failed"),
    "version": ("版本", "Version"),
    "fingerprint": ("数据指纹", "Data fingerprint"),
    "contents": ("目录", "Contents"),
    "run_failed": ("运行失败", "Run failed"),
    "runs": ("运行记录", "Runs"),
    "latest_good": ("最近一次成功", "Latest good run"),
    "month": ("月份", "Month"),
    "category": ("品类", "Category"),
    "value": ("数值", "Value"),
    "refused": ("拒收文件", "Refused files"),
    "rows_read": ("读取行数", "Rows read"),
    "rows_loaded": ("入库行数", "Rows loaded"),
    "rows_rejected": ("拒收行数", "Rows rejected"),
    "rejected_share": ("拒收比例", "Rejected share"),
    "values_flagged": ("标记值数", "Values flagged"),
    "reason": ("原因", "Reason"),
    "column": ("列", "Column"),
    "example_file": ("示例文件", "Example file"),
    "total": ("合计", "Total"),
    # identity resolution
    "accounts": ("账号数", "Accounts"),
    "persons": ("人数", "Persons"),
    "deterministic": ("强标识归并", "Strong key"),
    "probabilistic": ("概率匹配归并", "Probabilistic link"),
    "unlinked": ("未归并", "Unlinked"),
    "accounts_per_person": ("每人账号数", "Accounts per person"),
    "threshold": ("阈值", "Threshold"),
    "links": ("匹配对数", "Links"),
    "comparison": ("比较项", "Comparison"),
    "level": ("比较层级", "Level"),
    "m": ("m 概率", "m"),
    "u": ("u 概率", "u"),
    "match_weight": ("匹配权重", "Match weight"),
    "rule": ("规则", "Rule"),
    "purpose": ("用途", "Purpose"),
    "blocking_prediction": ("生成候选对", "Proposes candidate pairs"),
    "blocking_prior": ("估计随机两账号同人的概率", "Estimates the prior match rate"),
    "blocking_m": ("已由强标识归并的账号对: 学习 m 概率", "Pairs strong keys join: learn m"),
    "resolution": ("归并方式", "Resolution"),
    "strong_keys_only": ("仅强标识", "Strong keys only"),
    "resolved": ("强标识 + 概率匹配", "Strong keys + links"),
    "evidence_ceiling": ("证据上限", "Evidence ceiling"),
    "precision": ("精确率", "Precision"),
    "recall": ("召回率", "Recall"),
    "f1": ("F1", "F1"),
    "predicted_pairs": ("判为同人的对数", "Predicted pairs"),
    "true_pairs": ("真实同人对数", "True pairs"),
    "correct_pairs": ("判对的对数", "Correct pairs"),
    # channels
    "channels": ("渠道组合", "Channels"),
    "buyers": ("购买人数", "Buyers"),
    "orders": ("订单数", "Orders"),
    "net_amount": ("净销售额", "Net sales"),
    "also_elsewhere_share": ("跨渠道购买占比", "Also buy elsewhere"),
    "new_to_brand": ("品牌新客数", "New to brand"),
    "new_share": ("品牌新客占比", "New-to-brand share"),
    "planted_new_share": ("预设新客占比(合成数据)", "Planted share (synthetic)"),
    "day": ("日期", "Day"),
    "no_truth": (
        "未找到真值数据 (`{path}`)：这是真实数据，无法计算准确率。",
        "No ground truth at `{path}`: real data, so accuracy cannot be measured.",
    ),
}


def label(key: str, lang: str = "zh") -> str:
    """The label for ``key`` in ``lang`` (``zh`` or ``en``); the key itself if unknown.

    Example:
        >>> label("douyin", "en"), label("douyin", "zh")
        ('Douyin', '抖店')
    """
    pair = LABELS.get(key)
    if pair is None:
        return key
    return pair[0] if lang == "zh" else pair[1]


def relabel(df: pd.DataFrame, lang: str = "zh", values: Iterable[str] = ()) -> pd.DataFrame:
    """Rename columns to labels, and translate the values of the named columns."""
    out = df.copy()
    for col in values:
        out[col] = out[col].map(lambda v: label(v, lang) if isinstance(v, str) else v)
    return out.rename(columns={c: label(c, lang) for c in out.columns})
