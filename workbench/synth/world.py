"""The synthetic world: catalogue, calendar, places, names and the planted parameters.

Everything a generated data set is drawn from is declared here as data, so a
test (or an analyst reading the truth files) can see what was planted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

# Our brand and the group's sister brand, which competes in the same categories.
OUR_BRAND = "清溪"
SISTER_BRAND = "蓝泉"

PLATFORMS: tuple[str, ...] = ("tmall", "jd", "pdd", "youzan", "douyin", "pos")
CHANNEL_LABELS = {
    "tmall": "天猫",
    "jd": "京东",
    "pdd": "拼多多",
    "youzan": "有赞",
    "douyin": "抖店",
    "pos": "门店",
}


@dataclass(frozen=True)
class Category:
    """A product category with its planted repurchase cycle (RC).

    ``rc_days`` equals ``pack_units / daily_usage`` of the main pack (the usage
    method). Each person's cycle, the days a main pack lasts them, is spread so
    that its 90th percentile over persons is ``3 * rc_days`` (the inductive
    method); purchases last the units they bring, so with every purchase seen the
    inductive method gives ``rc_days`` within a few percent. A window that ends
    cuts the longest cycles short.
    """

    code: str
    name_zh: str
    name_en: str
    pack_units: float
    daily_usage: float

    @property
    def rc_days(self) -> float:
        return self.pack_units / self.daily_usage


CATEGORIES: tuple[Category, ...] = (
    Category("laundry", "洗衣液", "laundry detergent", 30, 0.5),
    Category("dishwasher", "洗碗机洗涤块", "dishwasher tablets", 50, 0.5),
    Category("handwash", "洗手液", "hand wash", 225, 5.0),
)


@dataclass(frozen=True)
class Product:
    sku: str
    category: str
    brand: str
    title: str
    pack_units: float
    price: float


PRODUCTS: tuple[Product, ...] = (
    Product("QX-LD-3000", "laundry", OUR_BRAND, "清溪 深层洁净洗衣液 3kg", 30, 79.9),
    Product("QX-LD-1500", "laundry", OUR_BRAND, "清溪 深层洁净洗衣液 1.5kg", 15, 45.9),
    Product("LQ-LD-3000", "laundry", SISTER_BRAND, "蓝泉 薰衣草洗衣液 3kg", 30, 69.9),
    Product("QX-DW-50", "dishwasher", OUR_BRAND, "清溪 洗碗机专用洗涤块 50粒", 50, 149.0),
    Product("QX-DW-30", "dishwasher", OUR_BRAND, "清溪 洗碗机专用洗涤块 30粒", 30, 99.0),
    Product("LQ-DW-50", "dishwasher", SISTER_BRAND, "蓝泉 洗碗块 50粒", 50, 129.0),
    Product("QX-HW-500", "handwash", OUR_BRAND, "清溪 抑菌洗手液 500ml", 225, 39.9),
    Product("QX-HW-300", "handwash", OUR_BRAND, "清溪 抑菌洗手液 补充装 300ml", 135, 25.9),
    Product("LQ-HW-500", "handwash", SISTER_BRAND, "蓝泉 泡沫洗手液 500ml", 225, 32.9),
)
SAMPLE = Product("QX-GIFT-01", "sample", OUR_BRAND, "清溪 旅行装小样(赠品)", 0, 0.0)


@dataclass(frozen=True)
class Promotion:
    """A big promotion with its phases (inclusive dates)."""

    code: str  # e.g. "618-2025"
    name: str  # 618 or 双11
    warmup: tuple[date, date]
    burst: tuple[date, date]
    sustain: tuple[date, date]
    close: tuple[date, date]

    @property
    def start(self) -> date:
        return self.warmup[0]

    @property
    def end(self) -> date:
        return self.close[1]

    def phases(self) -> dict[str, tuple[date, date]]:
        return {
            "warmup": self.warmup,
            "burst": self.burst,
            "sustain": self.sustain,
            "close": self.close,
        }


def promotions(start: date, end: date) -> list[Promotion]:
    """The 618 and Double 11 promotions whose burst falls inside ``[start, end]``."""
    out: list[Promotion] = []
    for year in range(start.year, end.year + 1):
        p618 = Promotion(
            f"618-{year}",
            "618",
            (date(year, 5, 20), date(year, 5, 31)),
            (date(year, 6, 1), date(year, 6, 18)),
            (date(year, 6, 19), date(year, 6, 20)),
            (date(year, 6, 21), date(year, 6, 25)),
        )
        p1111 = Promotion(
            f"1111-{year}",
            "双11",
            (date(year, 10, 20), date(year, 10, 31)),
            (date(year, 11, 1), date(year, 11, 11)),
            (date(year, 11, 12), date(year, 11, 14)),
            (date(year, 11, 15), date(year, 11, 18)),
        )
        out += [p for p in (p618, p1111) if start <= p.burst[0] and p.close[1] <= end]
    return out


# Promotion-sensitivity classes (促销敏感度), as the member team uses them: a
# fanatic buys nearly everything on promotion or with a coupon, and at a deep
# discount; a sensitive buyer most of the time; a neutral one now and then; an
# indifferent one rarely, and then because the promotion was on anyway.
@dataclass(frozen=True)
class PromoClass:
    """How a promotion class buys.

    Attributes:
        code: fanatic, sensitive, neutral or indifferent.
        share: share of persons in the class.
        p_wait: chance that a purchase due within ``promo_wait_days`` before a
            618 or Double 11 burst is held back for it.
        p_coupon: chance of a shop coupon on an order in a burst.
        extra_packs: mean extra packs bought in a burst (stocking up).
        p_deal: chance that an order outside the bursts is made on an everyday
            deal (a shop coupon, 满减, a member day or a live-stream price).
        deal_depth: mean discount of such a deal, as a share of the list price.
    """

    code: str
    share: float
    p_wait: float
    p_coupon: float
    extra_packs: float
    p_deal: float = 0.0
    deal_depth: float = 0.1


# Share of a class's purchases that the warehouse finds on promotion or with a
# coupon (a 20,000-person world, seed 42): fanatic 0.76 at a mean discount of
# 0.21, sensitive 0.57, neutral 0.26, indifferent 0.09 (about one purchase in
# twelve falls in a burst by the calendar alone).
PROMO_CLASSES: tuple[PromoClass, ...] = (
    PromoClass("fanatic", 0.10, 0.85, 0.90, 1.2, p_deal=0.80, deal_depth=0.25),
    PromoClass("sensitive", 0.25, 0.55, 0.60, 0.5, p_deal=0.55, deal_depth=0.15),
    PromoClass("neutral", 0.40, 0.20, 0.25, 0.1, p_deal=0.20, deal_depth=0.10),
    PromoClass("indifferent", 0.25, 0.02, 0.03, 0.0, p_deal=0.02, deal_depth=0.10),
)

# Campaign arms (benefit points) tried against a random holdout.
ARMS: dict[str, str] = {
    "A": "满199减20",
    "B": "满199减30",
    "C": "积分翻倍",
}


@dataclass(frozen=True)
class Planted:
    """Parameters planted in the generated data; written to ``truth/parameters.json``."""

    start: date = date(2023, 1, 1)
    end: date = date(2026, 11, 20)
    douyin_launch: date = date(2024, 9, 1)
    # A person's cycle (days a main pack lasts them) = RC * lognormal(0, sigma): p90 is 3 RC.
    rc_sigma: float = 1.0986 / 1.2816
    interval_shape: float = 4.0  # gamma shape of single intervals around a person's mean
    promo_wait_days: int = 30
    promo_discount: tuple[float, ...] = (0.15, 0.2, 0.3)
    share_existing: float = 0.25  # customers already acquired before the window opens
    brand_mix: dict[str, float] = field(
        default_factory=lambda: {"ours": 0.80, "sister_only": 0.10, "mixed": 0.10}
    )
    share_one_off: float = 0.55  # buy once and never again (triers)
    # Repurchases a repeat customer makes before leaving the brand: an exponential
    # lifetime counted in the person's own cycles (days = cycles * person RC).
    mean_lifetime_cycles: float = 6.0
    p_switch_on_churn: float = 0.35  # churned from our brand but kept buying the sister brand
    category_share: dict[str, float] = field(
        default_factory=lambda: {"laundry": 0.70, "dishwasher": 0.35, "handwash": 0.45}
    )
    # Primary channel of a newly acquired customer, before / after the Douyin launch.
    channel_mix_before: dict[str, float] = field(
        default_factory=lambda: {
            "tmall": 0.38,
            "jd": 0.22,
            "pdd": 0.14,
            "youzan": 0.12,
            "douyin": 0.0,
            "pos": 0.14,
        }
    )
    channel_mix_after: dict[str, float] = field(
        default_factory=lambda: {
            "tmall": 0.27,
            "jd": 0.15,
            "pdd": 0.12,
            "youzan": 0.09,
            "douyin": 0.27,
            "pos": 0.10,
        }
    )
    p_second_channel: float = 0.25
    p_third_channel: float = 0.07
    p_existing_adds_douyin: float = 0.2
    p_member_by_channel: dict[str, float] = field(
        default_factory=lambda: {
            "tmall": 0.35,
            "jd": 0.25,
            "pdd": 0.10,
            "youzan": 0.75,
            "douyin": 0.15,
            "pos": 0.70,
        }
    )
    share_pool_only: float = 0.08  # members / followers who never buy (potential pool)
    p_wechat: float = 0.6  # member with a WeChat unionid
    p_bind_tmall: float = 0.6  # Tmall buyer member bound through 会员通
    p_bind_jd: float = 0.5
    p_household: float = 0.05  # shares the address of another customer
    p_gift_receiver: float = 0.03  # order shipped to someone else
    p_name_typo: float = 0.02
    p_address_typo: float = 0.03
    p_cancelled: float = 0.02
    p_refunded: float = 0.03
    p_partial_refund: float = 0.01
    test_orders_per_file: int = 3
    holdout_share: float = 0.10
    # Extra purchase probability during the burst for a treated person
    # (incremental orders per treated head), by segment at campaign start and arm.
    uplift: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "active": {"A": 0.04, "B": 0.07, "C": 0.02},
            "sleeping": {"A": 0.05, "B": 0.09, "C": 0.02},
            "lost": {"A": 0.01, "B": 0.03, "C": 0.0},
            "potential": {"A": 0.02, "B": 0.03, "C": 0.01},
        }
    )
    tier_bounds: tuple[float, ...] = (500.0, 1500.0, 4000.0)  # 普通 | 高级 | VIP | 至尊VIP

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("start", "end", "douyin_launch"):
            out[key] = getattr(self, key).isoformat()
        out["categories"] = [{**asdict(c), "rc_days": c.rc_days} for c in CATEGORIES]
        out["promo_classes"] = [asdict(c) for c in PROMO_CLASSES]
        out["arms"] = ARMS
        return out


TIERS: tuple[str, ...] = ("普通", "高级", "VIP", "至尊VIP")

# Places: province, city, districts. Addresses are built from these and streets.
PLACES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("上海", "上海市", ("浦东新区", "徐汇区", "静安区", "闵行区", "杨浦区")),
    ("北京", "北京市", ("朝阳区", "海淀区", "丰台区", "西城区", "通州区")),
    ("广东省", "广州市", ("天河区", "越秀区", "海珠区", "番禺区")),
    ("广东省", "深圳市", ("南山区", "福田区", "宝安区", "龙岗区")),
    ("浙江省", "杭州市", ("西湖区", "拱墅区", "滨江区", "余杭区")),
    ("浙江省", "宁波市", ("鄞州区", "海曙区", "江北区")),
    ("江苏省", "南京市", ("鼓楼区", "玄武区", "江宁区", "建邺区")),
    ("江苏省", "苏州市", ("姑苏区", "吴中区", "工业园区", "相城区")),
    ("四川省", "成都市", ("锦江区", "武侯区", "高新区", "成华区")),
    ("湖北省", "武汉市", ("武昌区", "江汉区", "洪山区", "汉阳区")),
    ("陕西省", "西安市", ("雁塔区", "碑林区", "未央区")),
    ("重庆", "重庆市", ("渝中区", "江北区", "南岸区", "渝北区")),
    ("天津", "天津市", ("和平区", "南开区", "河西区")),
    ("山东省", "青岛市", ("市南区", "崂山区", "黄岛区")),
    ("山东省", "济南市", ("历下区", "槐荫区", "市中区")),
    ("福建省", "厦门市", ("思明区", "湖里区", "集美区")),
    ("湖南省", "长沙市", ("岳麓区", "芙蓉区", "天心区")),
    ("河南省", "郑州市", ("金水区", "二七区", "中原区")),
    ("安徽省", "合肥市", ("蜀山区", "包河区", "庐阳区")),
    ("辽宁省", "沈阳市", ("和平区", "沈河区", "浑南区")),
)
CITY_WEIGHTS: tuple[float, ...] = (
    10,
    10,
    7,
    7,
    6,
    3,
    4,
    4,
    5,
    4,
    3,
    4,
    3,
    2,
    2,
    2,
    3,
    3,
    2,
    2,
)
STREETS: tuple[str, ...] = (
    "人民路",
    "中山路",
    "解放路",
    "建设路",
    "和平路",
    "长江路",
    "南京路",
    "文化路",
    "新华路",
    "朝阳路",
    "光明路",
    "幸福路",
    "学院路",
    "科技路",
    "东风路",
    "青年路",
    "滨江大道",
    "世纪大道",
    "湖滨路",
    "春晓路",
)
COMPOUNDS: tuple[str, ...] = (
    "阳光花园",
    "翠湖苑",
    "锦绣家园",
    "金色港湾",
    "碧桂园",
    "万科城",
    "绿地小区",
    "御景湾",
    "紫薇苑",
    "和谐家园",
    "书香门第",
    "海棠湾",
)
# Surnames with rough weights; given-name characters.
SURNAMES: tuple[str, ...] = (
    "王",
    "李",
    "张",
    "刘",
    "陈",
    "杨",
    "黄",
    "赵",
    "吴",
    "周",
    "徐",
    "孙",
    "马",
    "朱",
    "胡",
    "郭",
    "何",
    "高",
    "林",
    "罗",
    "郑",
    "梁",
    "谢",
    "宋",
    "唐",
    "许",
    "韩",
    "冯",
    "邓",
    "曹",
    "彭",
    "曾",
    "肖",
    "田",
    "董",
    "袁",
    "潘",
    "于",
    "蒋",
    "蔡",
)
SURNAME_WEIGHTS: tuple[float, ...] = tuple(
    [
        7.2,
        7.0,
        6.7,
        5.4,
        4.5,
        3.1,
        2.2,
        2.1,
        2.0,
        1.7,
        1.6,
        1.5,
        1.3,
        1.2,
        1.1,
        1.0,
        1.0,
        0.9,
        0.9,
        0.8,
        0.8,
        0.7,
        0.6,
        0.6,
        0.6,
        0.6,
        0.5,
        0.5,
        0.5,
        0.5,
        0.5,
        0.5,
        0.4,
        0.4,
        0.4,
        0.4,
        0.4,
        0.4,
        0.4,
        0.4,
    ]
)
GIVEN_CHARS: str = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬建国志强"
    "文斌浩宇子涵欣怡梓萱雨桐佳怡思远俊杰晨阳婷婷晓东海燕丹凯旭鹏飞慧琳雪梅"
)
# Characters a careless typist puts in place of another (same sound or shape).
TYPO_SWAPS: dict[str, str] = {
    "伟": "玮",
    "芳": "方",
    "静": "婧",
    "丽": "莉",
    "强": "墙",
    "磊": "雷",
    "军": "君",
    "洋": "阳",
    "勇": "永",
    "艳": "燕",
    "杰": "洁",
    "娟": "鹃",
    "涛": "滔",
    "明": "铭",
    "华": "化",
    "玲": "铃",
    "红": "宏",
    "平": "萍",
    "国": "果",
    "文": "雯",
    "浩": "皓",
    "宇": "雨",
    "晨": "辰",
    "婷": "庭",
    "东": "冬",
    "海": "嗨",
    "飞": "菲",
    "梅": "媚",
}
PHONE_PREFIXES: tuple[str, ...] = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "176",
    "177",
    "180",
    "181",
    "182",
    "185",
    "186",
    "187",
    "188",
    "189",
    "199",
)
STORES: tuple[tuple[str, str, str], ...] = (
    ("SH001", "上海徐家汇店", "上海市"),
    ("SH002", "上海五角场店", "上海市"),
    ("BJ001", "北京三里屯店", "北京市"),
    ("GZ001", "广州天河城店", "广州市"),
    ("HZ001", "杭州湖滨店", "杭州市"),
    ("CD001", "成都春熙路店", "成都市"),
)
STREAMERS: tuple[str, ...] = ("清溪官方旗舰店", "家务小能手阿珍", "省钱姐妹花", "居家好物推荐官")
TRAFFIC_SOURCES: tuple[str, ...] = ("直播", "短视频", "商品卡", "搜索")
