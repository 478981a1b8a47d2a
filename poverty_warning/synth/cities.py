"""The four synthetic cities: real district codes and sub-district names.

Sub-district codes are the district code plus a 3-digit serial, the shape of
the national 9-digit township codes.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    key: str
    name_zh: str
    policy_id: str  # the policy the nightly run applies by default
    districts: dict[str, tuple[str, tuple[str, ...]]]  # code -> (name, sub-district names)
    income_city_key: str  # which defaults rows give its income level

    def subdistricts(self) -> list[tuple[str, str, str]]:
        """(district_code, subdistrict_code, subdistrict_name) for every sub-district."""
        return [(d, f"{d}{i + 1:03d}", name)
                for d, (_, names) in self.districts.items() for i, name in enumerate(names)]


CITIES: dict[str, City] = {c.key: c for c in (
    City("shanghai", "上海市", "shanghai-2022", {
        "310101": ("黄浦区", ("南京东路街道", "外滩街道", "豫园街道", "老西门街道", "五里桥街道")),
        "310104": ("徐汇区", ("天平路街道", "湖南路街道", "斜土路街道", "田林街道", "康健新村街道", "华泾镇")),
        "310110": ("杨浦区", ("定海路街道", "平凉路街道", "控江路街道", "殷行街道", "五角场街道")),
        "310112": ("闵行区", ("江川路街道", "古美路街道", "新虹街道", "莘庄镇", "七宝镇", "浦江镇")),
        "310113": ("宝山区", ("友谊路街道", "吴淞街道", "张庙街道", "罗店镇", "顾村镇")),
        "310115": ("浦东新区", ("潍坊新村街道", "陆家嘴街道", "周家渡街道", "花木街道", "川沙新镇", "惠南镇")),
    }, "shanghai"),
    City("wuhai", "乌海市", "wuhai-2020", {
        "150302": ("海勃湾区", ("新华街道", "凤凰岭街道", "滨河街道", "林荫街道", "千里山镇")),
        "150303": ("海南区", ("西卓子山街道", "拉僧庙镇", "巴音陶亥镇", "公乌素镇")),
        "150304": ("乌达区", ("三道坎街道", "梁家沟街道", "苏海图街道", "乌兰淖尔镇")),
    }, "wuhai"),
    City("taizhou", "泰州市", "taizhou-2017", {
        "321202": ("海陵区", ("城东街道", "城西街道", "城中街道", "城南街道", "京泰路街道", "九龙镇")),
        "321203": ("高港区", ("口岸街道", "刁铺街道", "许庄街道", "白马镇")),
        "321204": ("姜堰区", ("三水街道", "罗塘街道", "天目山街道", "溱潼镇", "张甸镇")),
    }, "taizhou"),
    City("zhoushan", "舟山市", "zhoushan-2019", {
        "330902": ("定海区", ("解放街道", "昌国街道", "环南街道", "盐仓街道", "白泉镇", "金塘镇")),
        "330903": ("普陀区", ("沈家门街道", "东港街道", "朱家尖街道", "六横镇")),
        "330921": ("岱山县", ("高亭镇", "东沙镇", "衢山镇")),
        "330922": ("嵊泗县", ("菜园镇", "洋山镇")),
    }, "zhoushan"),
)}
