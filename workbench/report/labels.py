"""Labels shown to people, in Chinese and English, from one table.

Tables and columns stay in English snake_case; what a report shows comes from
here, so one ``lang`` parameter switches a whole report.
"""

from __future__ import annotations

import re
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
    "level": ("层级", "Level"),
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
    "rc_planted": ("预设 RC（天）", "Planted RC (days)"),
    "inductive_error": ("与预设之差", "Off the planted RC"),
    "rc_inductive_true": ("真实买家上的归纳法 RC", "The method on the true buyers"),
    "rc_no_gifts": ("去掉礼品订单后的 RC", "RC without gift orders"),
    "rc_planted_repeaters": (
        "预设个人 RC：真实复购客户",
        "Planted person RC: true repeat customers",
    ),
    "rc_planted_buyers": ("预设个人 RC：全部真实买家", "Planted person RC: all true buyers"),
    "rc_check_note": (
        "合成数据的检验：找到的 RC 与预设 RC 之差来自两个可测量的原因。礼品订单被（按其证据）归给收礼人，"
        "使一次性买家变成间隔很长的复购客户，见去掉礼品订单后的 RC；数据窗口的结束使长周期的人来不及复购，"
        "见预设个人 RC 在真实复购客户与全部真实买家之间的差。",
        "A check on synthetic data: the distance between the RC found and the planted RC has "
        "two measured causes. Gift orders go (by their evidence) to the receiver, which turns "
        "one-off buyers into repeat customers with long intervals: see the RC without gift "
        "orders. The window's end keeps persons with long cycles from buying again: see the "
        "planted person RC over the true repeat customers against all true buyers.",
    ),
    "sensitivity_check_note": (
        "促销敏感度与预设类别对照（行：预设；列：找到）。{n:,} 人被分类，一致率 {agreement}，"
        "随机一致率 {chance}，Cohen's kappa {kappa:.2f}（线性加权 {weighted:.2f}）。",
        "Promotion sensitivity against the planted class (rows: planted; columns: found). "
        "{n:,} persons classified, agreement {agreement} against {chance} by chance, "
        "Cohen's kappa {kappa:.2f} ({weighted:.2f} linearly weighted).",
    ),
    "planted": ("预设", "Planted"),
    "no_truth": (
        "未找到真值数据：这是真实数据，无法计算准确率。",
        "No ground truth: real data, so accuracy cannot be measured.",
    ),
    # the report header and the summary strip
    "parameter": ("参数", "Parameter"),
    "source": ("来源", "Source"),
    "data_range": ("数据日期范围", "Data date range"),
    "run_time": ("运行时间", "Run at"),
    "engine": ("计算引擎", "Engine"),
    "download_csv": ("下载 CSV", "Download CSV"),
    "details": ("明细", "Details"),
    "data_tables": ("数据表行数", "Rows per data table"),
    "raw_files": ("原始文件", "Raw files"),
    "given": ("本次指定", "given"),
    "notebook_default": ("笔记本默认值", "notebook default"),
    "from_setting": ("来自设置", "from the settings"),
    "setting_default": ("设置的默认值", "the settings' default"),
    "setting_env": ("设置：环境变量 {var}", "setting from {var}"),
    "setting_file": ("设置：{file}", "setting from {file}"),
    "last_order_date": ("仓库最后订单日期", "last order date in the warehouse"),
    "days_before_as_of": ("截止日期前 {days} 天", "{days} days before the as-of date"),
    "compare_as_of": ("对比日期", "Compared with"),
    "rc_method": ("RC 计算方法", "RC method"),
    "awake_rc": ("高度清醒上限（RC）", "Highly awake up to (RC)"),
    "active_rc": ("活跃上限（RC）", "Active up to (RC)"),
    "light_sleep_rc": ("轻度睡眠上限（RC）", "Light sleep up to (RC)"),
    "lost_rc": ("流失下限（RC）", "Lost beyond (RC)"),
    "min_repeaters": ("auto 采用归纳法所需复购客户数", "Repeat customers auto needs"),
    "rc_quantile": ("归纳法分位数", "Inductive RC quantile"),
    "rc_multiple": ("该分位数对应的 RC 倍数", "RC multiple of that quantile"),
    "loyal_min_purchases": ("忠粉最少购买天数", "Loyal fan: purchase days at least"),
    "loyal_aov_quantile": ("忠粉客单价分位数", "Loyal fan: value per purchase quantile"),
    "new_member_days": ("新会员入会天数上限", "New member: joined within (days)"),
    "recovery_min_purchases": ("高挽回最少购买天数", "High recovery: purchase days at least"),
    "rfm_reference": ("RFM 高低参照", "RFM reference"),
    "rfm_basis": ("RFM 判断依据", "RFM basis"),
    "promo_high_share": ("促销敏感：促销购买占比下限", "Sensitive: promotion share from"),
    "promo_low_share": ("不敏感：促销购买占比低于", "Indifferent: promotion share below"),
    "promo_deep_discount": ("促销狂热：平均折扣深度下限", "Fanatic: discount depth from"),
    "promo_fanatic_share": ("促销狂热：促销购买占比下限", "Fanatic: promotion share from"),
    "promo_min_orders": ("判断促销敏感度最少购买次数", "Purchases to judge sensitivity"),
    "brand": ("本品牌", "Our brand"),
    "compare_days": ("迁移对比间隔（天）", "Migration gap (days)"),
    "alert_min_persons": ("迁移预警最少人数", "Alert: persons at least"),
    "setting": ("设置", "Setting"),
    "settings_summary": (
        "{n} 项设置，{changed} 项不是默认值",
        "{n} settings, {changed} not at their default",
    ),
    "settings_title": ("本报告的分层设置", "The segment settings of this report"),
    "stored_note": (
        "{as_of} 的快照已存入数据仓库表 segments：{n:,} 人（含 7 天复购得分与聚类）；"
        "大促规划从这里读取各期分层。",
        "The snapshot of {as_of} is stored in the warehouse table segments: {n:,} persons, "
        "with their 7-day scores and clusters; campaign planning reads each edition's "
        "segments from there.",
    ),
    "not_set": ("未设置", "not set"),
    "as_of": ("截止日期", "As of"),
    "link_threshold": ("归并阈值", "Link threshold"),
    "lang": ("语言", "Language"),
    "raw_dir": ("原始导出目录", "Raw exports"),
    "truth_dir": ("真值目录", "Ground truth"),
    "new_lookback_days": ("新客回看天数", "New-customer look-back (days)"),
    "multi_channel_share": ("多渠道人数占比", "Multi-channel persons"),
    "identity_precision": ("身份识别精确率", "Identity precision"),
    "identity_recall": ("身份识别召回率", "Identity recall"),
    "size_kb": ("大小", "Size"),
    "kind": ("类别", "Kind"),
    "excluded": ("按规则排除", "Excluded by rule"),
    "unreadable": ("无法读取", "Could not be read"),
    "week": ("周", "Week"),
    "orders_per_week": ("每周订单数", "Orders per week"),
    "order_data": ("订单数据", "Order data"),
    "other_data": ("会员、商品与营销数据", "Member, product and campaign data"),
    "rows_received": ("收到的数据行数", "Data rows received"),
    "persons_by_accounts": ("按账号数分的人数", "Persons by number of accounts"),
    "overlap_title": ("各渠道组合的人数", "Persons per combination of channels"),
    "link_weights_title": ("每项证据的匹配权重", "Match weight of each piece of evidence"),
    "window": ("比较窗口", "Window"),
    "new_window_note": (
        "比较窗口 {start} 至 {end}：此前 {days} 天的订单只用于判断是否老客。",
        "Window {start} to {end}: orders in the {days} days before it only tell who is "
        "already a customer.",
    ),
    "new_window_short": (
        "数据不足 {days} 天的回看期，无法比较新客占比。",
        "Less than {days} days of history before the as-of date: new-to-brand shares "
        "cannot be compared.",
    ),
    # export formats
    "tmall_orders": ("天猫订单报表", "Tmall order report"),
    "tmall_items": ("天猫宝贝报表", "Tmall item report"),
    "jd_orders": ("京东订单", "JD orders"),
    "pdd_orders": ("拼多多订单", "Pinduoduo orders"),
    "youzan_orders": ("有赞订单 (JSON)", "Youzan orders (JSON)"),
    "youzan_trades": ("有赞交易明细", "Youzan trades"),
    "douyin_orders": ("抖店订单", "Douyin orders"),
    "pos_sales": ("门店销售小票", "Store POS sales"),
    "crm_members": ("会员档案", "Member records"),
    "products": ("商品主数据", "Product master"),
    "campaigns": ("营销活动", "Campaigns"),
    "campaign_audience": ("活动人群", "Campaign audiences"),
    "coupons": ("优惠券", "Coupons"),
    "touches": ("触达记录", "Touches"),
    # evidence the linking model compares
    "prior": ("先验：随机两个账号为同一人", "Prior: two random accounts are one person"),
    "phone_masked": ("掩码手机号", "Masked phone"),
    "name": ("姓名", "Name"),
    "city": ("城市", "City"),
    "district": ("区县", "District"),
    "address": ("详细地址", "Street address"),
    "name_hash": ("姓名", "name"),
    "address_hash": ("完整地址", "whole address"),
    "key_group": ("强标识分组", "strong-key group"),
    "evidence": ("证据", "Evidence"),
    "level_same": ("相同", "same"),
    "level_other": ("其余情况", "otherwise"),
    "level_shared_chars": ("至少 {n} 个字相同", "at least {n} characters in common"),
    "level_shared_tokens": ("至少 {n} 个地址词相同", "at least {n} address words in common"),
    "rule_same": ("{what}相同", "same {what}"),
    "rule_and": ("、", " and "),
    # reasons a row is not loaded (matched by pattern, see REASONS)
    "reason_cancelled": ("已取消订单", "cancelled order"),
    "reason_test_order": ("测试订单（实付 0.01）", "test order (paid 0.01)"),
    "reason_order_not_loaded": (
        "所属订单未入库（被拒收或不在订单报表中）",
        "order not loaded (rejected or not in the order report)",
    ),
    "reason_sibling_rejected": (
        "同一订单的另一行被拒收（第 {n} 行）",
        "another row of the order was rejected (row {n})",
    ),
    "reason_damaged_id": (
        "订单号已损坏（不符合{platform}订单号格式）",
        "damaged order id (not the shape of a {platform} order id)",
    ),
    "reason_missing_id": ("缺少订单号", "missing order id"),
    "reason_missing_value": ("缺少必填值", "missing value"),
    "reason_negative_quantity": ("数量为负", "negative quantity"),
    "reason_bad_mobile": ("不是大陆手机号", "not a mainland mobile number"),
    "reason_other_platform_id": ("不是所用平台的订单号", "not an order id of the platform used"),
    "reason_refund_without_ticket": ("退货单没有原销售小票", "refund without the original ticket"),
    "reason_unknown_tier": ("未知会员等级", "unknown member tier"),
    "reason_unreadable": ("无法读取的{what}", "unreadable {what}"),
    "reason_unreadable_or_missing_date": ("日期缺失或无法读取", "unreadable or missing date"),
    "reason_columns": ("列数与表头的 {n} 列不符", "the row does not have the header's {n} columns"),
    "amount": ("金额", "amount"),
    "date": ("日期", "date"),
    "quantity": ("数量", "quantity"),
    # segmentation: tiers of scheme one (three levels) and of the planning scheme
    "potential": ("潜力人群", "Potential"),
    "active": ("活跃用户", "Active"),
    "sleeping": ("睡眠用户", "Sleeping"),
    "lost": ("流失用户", "Lost"),
    "category_potential": ("品类潜力人群", "Category potential"),
    "competitor_buyer": ("竞争品牌人群", "Competitor buyers"),
    "highly_awake": ("高度清醒", "Highly awake"),
    "moderately_awake": ("中度清醒", "Moderately awake"),
    "light_sleep": ("轻度睡眠", "Light sleep"),
    "deep_sleep": ("深度睡眠", "Deep sleep"),
    "brand_lost": ("品牌流失", "Brand-lost"),
    "category_lost": ("品类流失", "Category-lost"),
    "new": ("新客", "New"),
    "returning": ("老客", "Returning"),
    "loyal": ("忠粉", "Loyal fans"),
    "new_member": ("新会员", "New members"),
    "active_old": ("活跃老客", "Active old customers"),
    "high_recovery_pre_churn": ("高挽回预流失", "High-recovery pre-churn"),
    "low_recovery_pre_churn": ("低挽回预流失", "Low-recovery pre-churn"),
    "churned": ("已流失", "Churned"),
    "trial_member": ("试用会员", "Trial members"),
    "potential_member": ("潜在会员", "Potential members"),
    # RFM segments, quadrants, promotion sensitivity, member tiers
    "important_value": ("重要价值客户", "Important value"),
    "important_develop": ("重要发展客户", "Important to develop"),
    "important_keep": ("重要保持客户", "Important to keep"),
    "important_retain": ("重要挽留客户", "Important to win back"),
    "general_value": ("一般价值客户", "General value"),
    "general_develop": ("一般发展客户", "General to develop"),
    "general_keep": ("一般保持客户", "General to keep"),
    "general_retain": ("一般挽留客户", "General to win back"),
    "hf_hv": ("高频高价值", "High frequency, high value"),
    "hf_lv": ("高频低价值", "High frequency, low value"),
    "lf_hv": ("低频高价值", "Low frequency, high value"),
    "lf_lv": ("低频低价值", "Low frequency, low value"),
    "fanatic": ("促销狂热", "Fanatic"),
    "sensitive": ("促销敏感", "Sensitive"),
    "neutral": ("中性", "Neutral"),
    "indifferent": ("不敏感", "Indifferent"),
    "unknown": (
        "无法判断（购买次数不足或无促销数据）",
        "Undetermined (too few purchases, or no promotion data)",
    ),
    "普通": ("普通", "Regular"),
    "高级": ("高级", "Senior"),
    "VIP": ("VIP", "VIP"),
    "至尊VIP": ("至尊VIP", "Supreme VIP"),
    "non_member": ("非会员", "Non-members"),
    # segmentation: columns, methods and reasons
    "tier": ("分层", "Tier"),
    "parent": ("一级分层", "Level-1 tier"),
    "tier_l1": ("一级分层", "Level-1 tier"),
    "share": ("占比", "Share"),
    "rc_usage": ("用量法 RC（天）", "Usage RC (days)"),
    "rc_inductive": ("归纳法 RC（天）", "Inductive RC (days)"),
    "rc_inductive_ci": ("归纳法 RC 95% 区间", "Inductive RC, 95% interval"),
    "p90_interval": ("归纳法分位数处的购买间隔（天）", "Interval at the inductive quantile (days)"),
    "repeaters": ("复购客户数", "Repeat customers"),
    "rc_days": ("采用的 RC（天）", "RC used (days)"),
    "method": ("方法", "Method"),
    "usage": ("用量法", "usage"),
    "auto": ("自动（复购客户足够时用归纳法）", "auto (inductive with enough repeat customers)"),
    "audience_name": ("人群包名称", "Audience name"),
    "percentage_points": ("{x:+.1f} 个百分点", "{x:+.1f} pp"),
    "explorer_in_lab": (
        "滑块只在 JupyterLab 中可用；报告中的分层即上表，按参数所设边界。",
        "The sliders work in JupyterLab; in the report the tiers are the table above, at "
        "the parameters' bounds.",
    ),
    "audience_empty": (
        "没有人符合这个条件：数据中可能没有它用到的标签（如城市、活动访问）。",
        "Nobody matches this filter: the data may lack the tags it uses (such as city or "
        "campaign visits).",
    ),
    "setting_mean": ("均值", "mean"),
    "setting_median": ("中位数", "median"),
    "setting_score": ("1-5 分", "1-5 scores"),
    "setting_raw": ("原始值", "raw values"),
    "audience_filter": ("人群包条件", "Audience filter"),
    "inductive": ("归纳法", "inductive"),
    "requested": ("按参数指定", "as requested"),
    "enough_repeaters": ("复购客户足够", "enough repeat customers"),
    "few_repeaters": ("复购客户不足，改用用量法", "too few repeat customers: usage instead"),
    "no_usage_data": ("商品主数据无用量，改用归纳法", "no usage in the product master: inductive"),
    "no_repeaters": ("无复购客户，改用用量法", "no repeat customers: usage instead"),
    "all_categories": ("全部品类", "All categories"),
    "recency_days": ("距上次购买（天）", "Days since last purchase"),
    "purchases": ("购买天数", "Purchase days"),
    "net_amount_mean": ("人均净消费", "Net sales per person"),
    "aov": ("单次消费", "Value per purchase"),
    "promo_share": ("促销购买占比", "Share bought on promotion"),
    "discount_depth": ("平均折扣深度", "Mean discount depth"),
    "member_tier": ("会员等级", "Member tier"),
    "from": ("上期分层", "From"),
    "to": ("本期分层", "To"),
    "row_share": ("占上期该层比例", "Share of the row"),
    "row_share_before": ("前一期比例", "Share in the period before"),
    "persons_before": ("前一期人数", "Persons in the period before"),
    "change": ("比例变化", "Change"),
    "new_to_pool": ("新进入人群", "New to the pool"),
    "mean_interval": ("平均购买间隔（天）", "Mean interval between purchases (days)"),
    "buyers_total": ("购买过的人数", "Buyers"),
    "active_share": ("购买者中活跃占比", "Active share of buyers"),
    "lost_share": ("购买者中流失占比", "Lost share of buyers"),
    "loyal_fans": ("忠粉人数", "Loyal fans"),
    "active_net_amount": ("活跃用户累计净消费", "Net sales of active persons"),
    "segment_persons": ("人群总数", "Persons in the pool"),
    "rfm_segment": ("RFM 分群", "RFM segment"),
    "quadrant": ("象限", "Quadrant"),
    "promo_sensitivity": ("促销敏感度", "Promotion sensitivity"),
    "tier_sizes_title": ("各层级人数与净销售额", "Persons and net sales per tier"),
    "interval_title": (
        "复购客户的平均购买间隔",
        "Repeat customers by mean interval between purchases",
    ),
    "p90_label": ("P90 = {days:.0f} 天 = 3 RC", "P90 = {days:.0f} days = 3 RC"),
    "migration_title": ("分层迁移：从 {before} 到 {after}", "Tier migration: {before} to {after}"),
    "quadrant_title": ("频次 × 价值四象限", "Frequency x value quadrants"),
    "frequency": ("频次", "Frequency"),
    "high": ("高", "high"),
    "low": ("低", "low"),
    "absent_members": (
        "数据中没有会员系统：会员等级交叉与规划分层中的会员各层为空，所有人计为非会员。",
        "The data hold no member CRM: the member-tier cross and the planning scheme's member "
        "tiers are empty, and everyone counts as a non-member.",
    ),
    "absent_promotions": (
        "数据中没有大促、优惠券或折扣：无法判断促销敏感度，所有购买者记为无法判断。",
        "The data hold no campaign, coupon or discount: promotion sensitivity cannot be judged, "
        "and every buyer is unknown.",
    ),
    "absent_products": (
        "数据中没有商品主数据：没有品类，也没有用量法 RC，只有整体的归纳法 RC。",
        "The data hold no product master: no categories and no usage RC, only the overall "
        "inductive RC.",
    ),
    "no_competitor_data": (
        "数据中没有竞争品牌的购买记录：竞争品牌人群与品牌流失无法区分，分别归入品类潜力人群与品类流失。",
        "The data hold no purchases of another brand: competitor buyers and brand-lost persons "
        "cannot be told apart, and fall to category potential and category-lost.",
    ),
    "model": ("模型", "Model"),
    "gradient_boosting": ("梯度提升模型", "Gradient boosting"),
    "recency_baseline": ("仅按距上次购买（RC）排序", "Recency in RC alone"),
    "auc": ("AUC", "AUC"),
    "top_decile_lift": ("前 10% 提升度", "Top-decile lift"),
    "decile": ("预测概率十分位", "Decile of predicted probability"),
    "predicted": ("预测购买概率", "Predicted probability"),
    "observed": ("实际购买比例", "Observed rate"),
    "calibration_title": ("7 天复购模型的校准", "Calibration of the 7-day model"),
    "propensity_note": (
        "在 {train} 等 {weeks} 个周截点训练，在 {test} 之后的一周检验：{rows:,} 位购买者中 {rate} 在该周再次购买。",
        "Trained at {weeks} weekly cutoffs ({train}), tested on the week after {test}: {rate} "
        "of {rows:,} buyers bought again that week.",
    ),
    "cluster": ("聚类", "Cluster"),
    "traits": ("特征", "What sets it apart"),
    "trait_recency_days_high": ("久未购买", "long since last purchase"),
    "trait_recency_days_low": ("近期购买", "bought recently"),
    "trait_purchases_high": ("购买频繁", "frequent"),
    "trait_purchases_low": ("购买次数少", "few purchases"),
    "trait_net_amount_high": ("累计消费高", "high spend"),
    "trait_net_amount_low": ("累计消费低", "low spend"),
    "trait_aov_high": ("客单价高", "high value per purchase"),
    "trait_aov_low": ("客单价低", "low value per purchase"),
    "trait_promo_share_high": ("爱买促销", "buys on promotion"),
    "trait_promo_share_low": ("少买促销", "rarely on promotion"),
    "trait_discount_depth_high": ("折扣深", "deep discounts"),
    "trait_discount_depth_low": ("折扣浅", "shallow discounts"),
    "trait_none": ("接近整体平均", "close to the average"),
    "cluster_note": (
        "按轮廓系数选出 k = {k}（{scores}）。",
        "k = {k} chosen by silhouette ({scores}).",
    ),
    "audience": ("人群包", "Audience"),
    "audience_note": (
        "人群包 {name}：{size:,} 人，筛选条件如下。",
        "Audience {name}: {size:,} persons, selected by the filter below.",
    ),
    "propensity_missing": (
        "没有 7 天复购模型：截止日期前的周截点上没有足够的购买历史可供训练，"
        "segments.propensity_7d 留空。",
        "No 7-day model: the weekly cutoffs before the as-of date hold too little purchase "
        "history to train on; segments.propensity_7d stays empty.",
    ),
    "clusters_missing": (
        "没有聚类：购买者太少，无法可靠地分群，segments.cluster 留空。",
        "No clusters: too few buyers to cluster reliably; segments.cluster stays empty.",
    ),
    "no_alerts": (
        "本期没有比上一期增长的恶化迁移。",
        "No worsening transition grew against the period before.",
    ),
    # runs and the index
    "index_title": ("retail-workbench 报告", "retail-workbench reports"),
    "times_in": ("时间为 {tz} 当地时间。", "Times are local to {tz}."),
    "no_runs": ("还没有运行记录。", "No runs yet."),
    # the plan's Excel workbook (workbench.report.workbook)
    "wb_title": ("大促规划表", "Promotion plan"),
    "wb_sheet_history": ("历史", "History"),
    "wb_sheet_baseline": ("基线", "Baseline"),
    "wb_sheet_levers": ("提升举措", "Levers"),
    "wb_sheet_strategy": ("分阶段策略", "Strategy"),
    "wb_sheet_packs": ("人群包规模", "Pack sizes"),
    "wb_edition": ("大促届次", "Edition"),
    "wb_year": ("年份", "Year"),
    "wb_segment": ("人群分层", "Segment"),
    "wb_member_tier": ("会员等级", "Member tier"),
    "wb_customers": ("新客/老客", "New or returning"),
    "wb_population": ("人数", "Population"),
    "wb_buyers": ("复购人数", "Buyers"),
    "wb_orders": ("订单数", "Orders"),
    "wb_gmv": ("贡献 GMV", "GMV"),
    "wb_rate": ("复购率", "Repurchase rate"),
    "wb_aov": ("客单价", "Order value per buyer"),
    "wb_est_buyers": ("预计购买人数", "Expected buyers"),
    "wb_base_gmv": ("基线 GMV", "Baseline GMV"),
    "wb_gmv_low": ("{level} 区间下限", "Low ({level} interval)"),
    "wb_gmv_high": ("{level} 区间上限", "High ({level} interval)"),
    "wb_gap": ("分摊缺口", "Share of the gap"),
    "wb_gap_share": ("缺口占比", "Gap share"),
    "wb_editions": ("依据届数", "Editions used"),
    "wb_note": ("备注", "Note"),
    "wb_no_history": ("无历史，未估计", "no history: no estimate"),
    "wb_one_edition": ("仅依据一届", "one edition only"),
    "wb_outside": ("池外新购买者", "Buyers from outside the pool"),
    "wb_total": ("合计", "Total"),
    "wb_total_new": ("新客合计", "New customers"),
    "wb_total_returning": ("老客合计", "Returning customers"),
    "wb_interval_note": (
        "合计的区间不是各行区间之和：它计入了各届之间整体的波动。区间置信水平 {level}。",
        "A total's interval is not the sum of the rows' intervals: it counts the swings "
        "of the whole from edition to edition. Intervals at {level}.",
    ),
    "wb_base_rate": ("基线复购率", "Baseline rate"),
    "wb_base_aov": ("基线客单价", "Baseline order value"),
    "wb_suggested_rate": ("建议复购率", "Suggested rate"),
    "wb_planned_rate": ("计划复购率", "Planned rate"),
    "wb_planned_aov": ("计划客单价", "Planned order value"),
    "wb_planned_gmv": ("计划 GMV", "Planned GMV"),
    "wb_lever_gmv": ("举措增量", "Added by the lever"),
    "wb_measure": ("举措", "Measure"),
    "wb_owner": ("负责人", "Owner"),
    "wb_lever_note": ("举措说明", "Lever note"),
    "wb_rate_invalid": ("复购率须在 0 到 1 之间。", "A rate lies between 0 and 1."),
    "wb_aov_invalid": ("客单价不能小于 0。", "An order value is not below 0."),
    "wb_target": ("目标 GMV", "Target GMV"),
    "wb_baseline_total": ("基线 GMV 合计", "Baseline GMV"),
    "wb_gap_total": ("缺口（目标 − 基线）", "Gap (target − baseline)"),
    "wb_planned_total": ("计划 GMV 合计", "Planned GMV"),
    "wb_remaining": ("举措后剩余缺口", "Gap left after the levers"),
    "wb_target_new": ("新客目标", "New customers' target"),
    "wb_planned_new": ("新客计划 GMV", "New customers' planned GMV"),
    "wb_remaining_new": ("新客剩余缺口", "New customers' gap left"),
    "wb_target_returning": ("老客目标", "Returning customers' target"),
    "wb_planned_returning": ("老客计划 GMV", "Returning customers' planned GMV"),
    "wb_remaining_returning": ("老客剩余缺口", "Returning customers' gap left"),
    "wb_no_target": ("未设目标：只有基线，没有缺口。", "No target: the baseline without a gap."),
    "wb_group": ("目标人群", "Target group"),
    "wb_covers": ("覆盖分层", "Segments covered"),
    "wb_strategy": ("策略", "Strategy"),
    "wb_channel": ("推广渠道", "Channel"),
    "wb_resources": ("所需资源", "Resources needed"),
    "wb_phase": ("阶段", "Phase"),
    "wb_phase_start": ("开始日期", "First day"),
    "wb_phase_end": ("结束日期", "Last day"),
    "wb_phase_warmup": ("蓄水期", "Warm-up"),
    "wb_phase_burst": ("爆发期", "Burst"),
    "wb_phase_return": ("返场", "Sustain"),
    "wb_phase_tail": ("收尾期", "Close"),
    "wb_persons": ("人数", "Persons"),
    "wb_arm_control": ("对照组（不触达）", "Holdout (not contacted)"),
    "wb_arm_treatment": ("触达组", "Contacted"),
    # end of the workbook's labels
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


REASONS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"cancelled order"), "reason_cancelled", "excluded"),
    (re.compile(r"test order \(paid 0\.01\)"), "reason_test_order", "excluded"),
    (re.compile(r"order not loaded .*"), "reason_order_not_loaded", "excluded"),
    (
        re.compile(r"another row of the order was rejected \(row (?P<n>\d+)\)"),
        "reason_sibling_rejected",
        "unreadable",
    ),
    (
        re.compile(r"damaged order id \(not the shape of an? (?P<platform>\w+) order id\)"),
        "reason_damaged_id",
        "unreadable",
    ),
    (re.compile(r"missing order id"), "reason_missing_id", "unreadable"),
    (re.compile(r"missing value"), "reason_missing_value", "unreadable"),
    (re.compile(r"negative quantity"), "reason_negative_quantity", "unreadable"),
    (re.compile(r"not a mainland mobile number"), "reason_bad_mobile", "unreadable"),
    (re.compile(r"not an order id of the platform used"), "reason_other_platform_id", "unreadable"),
    (
        re.compile(r"refund without the original ticket"),
        "reason_refund_without_ticket",
        "unreadable",
    ),
    (re.compile(r"unknown member tier"), "reason_unknown_tier", "unreadable"),
    (re.compile(r"unreadable or missing date"), "reason_unreadable_or_missing_date", "unreadable"),
    (re.compile(r"unreadable (?P<what>\w+)"), "reason_unreadable", "unreadable"),
    (
        re.compile(r"the row does not have the header's (?P<n>\d+) columns"),
        "reason_columns",
        "unreadable",
    ),
)
"""Each reason the loader gives, its label, and whether it excludes by rule or could not read."""


def reason_label(reason: str, lang: str = "zh") -> str:
    """A rejection or flag reason in ``lang`` (the reason itself when it is not known).

    Example:
        >>> reason_label("unreadable amount", "zh"), reason_label("cancelled order", "en")
        ('无法读取的金额', 'cancelled order')
    """
    for pattern, key, _ in REASONS:
        m = pattern.fullmatch(reason or "")
        if m:
            fields = {k: label(v, lang) for k, v in m.groupdict().items()}
            return label(key, lang).format(**fields)
    return reason
