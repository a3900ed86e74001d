"""Labels shown to people, in Chinese and English, from one table.

Tables and columns stay in English snake_case; what a report shows comes from
here, so one ``lang`` parameter switches a whole report.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

LABELS: dict[str, tuple[str, str]] = {
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
    "reason": ("原因", "Reason"),
    "column": ("列", "Column"),
    "example_file": ("示例文件", "Example file"),
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
