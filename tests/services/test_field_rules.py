"""Who may change what on a hazard (issue 11): every role × every editable
field × the hazard's origin, at the register service every write path uses;
then the separation of duties in 验收销号.

The expected table below is written out from the issue's words, not read
from ``domain.HAZARD_FIELD_RULES``:

* enterprise users, on hazards they registered: description, category,
  location, the 五落实 (without the deadline, which is the regulator's), the
  rectification note;
* enterprise users, on hazards a regulator registered: the 五落实 (same), the
  rectification note;
* regulators (a prefecture's or a county's) and administrators: everything
  within their jurisdiction;
* read-only accounts: nothing.

Geography (tests/queries/world.py): the enterprise lies at (103.30, 23.40) in
county 532501 (west of 103.5 E), inside prefecture 532500.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from queries.world import add_regions, credit_code

from geo_service.domain import Actor
from geo_service.errors import Forbidden, IllegalTransition, InvalidParameter, NotFound
from geo_service.models import AuditLog, Hazard, HazardEvent, User
from geo_service.queries.scope import ALL, Scope
from geo_service.services import accounts, importers, register
from geo_service.services import evidence as ev

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

FIVE_WITHOUT_DEADLINE = {"resp_person", "measures", "funds_wan", "emergency_plan"}
EVERY_FIELD = {
    "description", "level", "category", "criterion", "source", "found_on", "found_by", "deadline",
    "resp_person", "measures", "funds_wan", "emergency_plan", "supervision_doc_no", "verification_note",
    "rectification_note", "lng", "lat",
}
ALLOWED: dict[str, dict[str, set[str]]] = {
    "admin": {"enterprise": EVERY_FIELD, "regulator": EVERY_FIELD},
    "regulator": {"enterprise": EVERY_FIELD, "regulator": EVERY_FIELD},
    "county": {"enterprise": EVERY_FIELD, "regulator": EVERY_FIELD},
    "enterprise": {
        "enterprise": FIVE_WITHOUT_DEADLINE | {"rectification_note", "description", "category", "lng", "lat"},
        "regulator": FIVE_WITHOUT_DEADLINE | {"rectification_note"},
    },
    "readonly": {"enterprise": set(), "regulator": set()},
}
# field → (the value sent, the column it lands in, the stored value expected, as the audit log's JSON)
NEW_VALUES: dict[str, tuple[str, str, object]] = {
    "description": ("护栏高度不足1.05米", "description", "护栏高度不足1.05米"),
    "level": ("重大", "level", "major"),
    "category": ("现场管理", "category", "现场管理"),
    "criterion": ("other", "criterion", "other"),
    "source": ("report", "source", "report"),
    "found_on": ("2026-02-20", "found_on", "2026-02-20"),
    "found_by": ("县应急局复查组", "found_by", "县应急局复查组"),
    "deadline": ("2027-12-31", "deadline", "2027-12-31"),
    "resp_person": ("钱七", "resp_person", "钱七"),
    "measures": ("加装防护栏", "measures", "加装防护栏"),
    "funds_wan": ("2.5", "funds_wan", 2.5),
    "emergency_plan": ("高处坠落应急处置方案", "emergency_plan", "高处坠落应急处置方案"),
    "supervision_doc_no": ("个安委办督〔2026〕9号", "supervision_doc_no", "个安委办督〔2026〕9号"),
    "verification_note": ("复查合格", "verification_note", "复查合格"),
    "rectification_note": ("护栏已加高并验收", "rectification_note", "护栏已加高并验收"),
    "lng": ("103.31", "geom", "POINT (103.31 23.4)"),
    "lat": ("23.41", "geom", "POINT (103.3 23.41)"),
}
assert set(NEW_VALUES) == EVERY_FIELD


@dataclass
class Cast:
    ent_id: int
    other_id: int
    users: dict[str, User]
    hazards: dict[str, int]

    def actor(self, role: str) -> Actor:
        return accounts.actor_for(self.users[role])

    def scope(self, role: str) -> Scope:
        return accounts.scope_for(self.users[role])


def build_cast(session) -> Cast:  # type: ignore[no-untyped-def]
    """An enterprise with one hazard it registered and one a regulator registered,
    and one account of each role."""
    add_regions(session)
    system = Actor("测试", None, "system")
    ent = register.create_enterprise(session, {"credit_code": credit_code(81), "name": "个旧机械厂",
                                               "industry": "工贸/机械", "lng": 103.3, "lat": 23.4},
                                     system, scope=ALL)
    other = register.create_enterprise(session, {"credit_code": credit_code(82), "name": "开远建材厂",
                                                 "industry": "工贸/建材", "lng": 103.8, "lat": 23.4},
                                       system, scope=ALL)
    def user(username: str, role: str, name: str, **where: object) -> User:
        # accounts that never sign in here: no password hashing (it is slow on purpose)
        u = User(username=username, display_name=name, password_hash="!", role=role, **where)
        session.add(u)
        session.flush()
        return u

    users = {
        "admin": user("r-admin", "admin", "管理员"),
        "regulator": user("r-pref", "regulator", "州应急局张三", region_code="532500"),
        "county": user("r-county", "regulator", "个旧市应急局李四", region_code="532501"),
        "county2": user("r-county2", "regulator", "个旧市应急局王五", region_code="532501"),
        "enterprise": user("r-qiye", "enterprise", "机械厂安全员", enterprise_id=ent.id),
        "readonly": user("r-viewer", "readonly", "只读", region_code="532500"),
    }
    cast = Cast(ent.id, other.id, users, {})
    own = register.create_hazard(session, ent.id, {"description": "冲床防护罩缺失", "level": "一般",
                                                   "found_on": "2026-03-01", "lng": "103.3", "lat": "23.4"},
                                 cast.actor("enterprise"), scope=cast.scope("enterprise"))
    theirs = register.create_hazard(session, ent.id, {"description": "配电箱未接地", "level": "一般",
                                                      "source": "inspection", "found_on": "2026-03-01",
                                                      "found_by": "个旧市应急局检查组", "deadline": "2026-06-30",
                                                      "lng": "103.3", "lat": "23.4"},
                                    cast.actor("county"), scope=cast.scope("county"))
    cast.hazards = {"enterprise": own.id, "regulator": theirs.id}
    return cast


def row_state(session, hazard_id: int) -> tuple[dict, int, int]:  # type: ignore[no-untyped-def]
    """The hazard row as stored, its audit rows and its events (read afresh)."""
    session.expire_all()
    hz = session.get(Hazard, hazard_id)
    audits = session.scalar(sa.select(sa.func.count()).select_from(AuditLog)
                            .where(AuditLog.object_type == "hazard", AuditLog.object_id == str(hazard_id)))
    n_events = session.scalar(sa.select(sa.func.count()).select_from(HazardEvent)
                              .where(HazardEvent.hazard_id == hazard_id))
    return register.snapshot(hz), audits, n_events


def test_origin_and_creator_are_recorded(session):
    cast = build_cast(session)
    own, theirs = (session.get(Hazard, cast.hazards[k]) for k in ("enterprise", "regulator"))
    assert (own.origin, own.source, own.created_by_id) == ("enterprise", "self", cast.users["enterprise"].id)
    assert (theirs.origin, theirs.source, theirs.created_by_id) == ("regulator", "inspection", cast.users["county"].id)


@pytest.mark.parametrize("origin", ["enterprise", "regulator"])
@pytest.mark.parametrize("field", sorted(EVERY_FIELD))
@pytest.mark.parametrize("role", ["admin", "regulator", "county", "enterprise", "readonly"])
def test_field_rules_table(session, role, field, origin):
    cast = build_cast(session)
    hazard_id = cast.hazards[origin]
    before, audits, n_events = row_state(session, hazard_id)
    value, column, expected = NEW_VALUES[field]
    call = dict(scope=cast.scope(role), expected_version=before["version"])
    if field in ALLOWED[role][origin]:
        register.update_hazard(session, hazard_id, {field: value}, cast.actor(role), **call)
        after, audits_after, _ = row_state(session, hazard_id)
        assert after[column] == expected and before[column] != expected
        assert after["version"] == before["version"] + 1 and audits_after == audits + 1
        changed = {k for k in after if after[k] != before[k]} - {"version", "updated_at"}
        assert column in changed
    else:
        with pytest.raises(Forbidden) as info:
            register.update_hazard(session, hazard_id, {field: value}, cast.actor(role), **call)
        assert info.value.http_status == 403
        if role != "readonly":  # a read-only account is refused every write, whatever the field
            label = {"level": "隐患等级", "deadline": "整改期限", "source": "隐患来源", "found_by": "检查人员",
                     "criterion": "重大隐患判定标准", "supervision_doc_no": "挂牌督办文号",
                     "verification_note": "复查情况", "found_on": "发现日期", "description": "隐患描述",
                     "category": "隐患类别", "lng": "经度", "lat": "纬度"}[field]
            assert "无权修改字段" in info.value.user_msg and label in info.value.user_msg
        assert row_state(session, hazard_id) == (before, audits, n_events)


def test_the_reported_attack_is_refused_and_changes_nothing(session):
    """An enterprise rewriting its regulator's 部门检查 finding (the issue's first report)."""
    cast = build_cast(session)
    hazard_id = cast.hazards["regulator"]
    before = row_state(session, hazard_id)
    attacks = [{"source": "self", "deadline": "2027-12-31"}, {"level": "major"}, {"criterion": "other"},
               {"supervision_doc_no": "无"}, {"found_by": "企业自己"}, {"verification_note": "已验收"},
               {"measures": "合法的措施", "level": "major"}]  # one allowed field does not carry a refused one
    for body in attacks:
        with pytest.raises(Forbidden, match="无权修改字段"):
            register.update_hazard(session, hazard_id, body, cast.actor("enterprise"),
                                   scope=cast.scope("enterprise"), expected_version=before[0]["version"])
        assert row_state(session, hazard_id) == before


def test_enterprise_registers_only_self_inspection_on_its_own_enterprise(session):
    cast = build_cast(session)
    company, scope = cast.actor("enterprise"), cast.scope("enterprise")
    base = {"description": "消防通道堵塞", "level": "一般", "found_on": "2026-03-02"}
    n = session.scalar(sa.select(sa.func.count()).select_from(Hazard))
    with pytest.raises(Forbidden, match="企业自查"):
        register.create_hazard(session, cast.ent_id, {**base, "source": "inspection"}, company, scope=scope)
    for field, value, label in [("deadline", "2026-04-01", "整改期限"), ("criterion", "trade", "重大隐患判定标准"),
                                ("supervision_doc_no", "x", "挂牌督办文号"), ("verification_note", "x", "复查情况")]:
        with pytest.raises(Forbidden, match=f"无权修改字段：{label}"):
            register.create_hazard(session, cast.ent_id, {**base, field: value}, company, scope=scope)
    with pytest.raises(NotFound):  # another enterprise lies outside its jurisdiction: as if it did not exist
        register.create_hazard(session, cast.other_id, base, company, scope=scope)
    with pytest.raises(Forbidden):
        register.create_hazard(session, cast.ent_id, base, cast.actor("readonly"), scope=cast.scope("readonly"))
    assert session.scalar(sa.select(sa.func.count()).select_from(Hazard)) == n
    hz = register.create_hazard(session, cast.ent_id, base, company, scope=scope)  # source defaults to 企业自查
    assert (hz.source, hz.origin) == ("self", "enterprise")


def test_transition_fields_obey_the_rules(session):
    """The 五落实 given on 开始整改 are the enterprise's except the deadline (时限)."""
    cast = build_cast(session)
    hazard_id = cast.hazards["regulator"]
    company, scope = cast.actor("enterprise"), cast.scope("enterprise")
    before = row_state(session, hazard_id)
    with pytest.raises(Forbidden, match="无权修改字段：整改期限"):
        register.transition_hazard(session, hazard_id, "rectifying", company, scope=scope, expected_version=1,
                                   fields={"resp_person": "赵六", "deadline": "2027-12-31"})
    assert row_state(session, hazard_id) == before
    hz = register.transition_hazard(session, hazard_id, "rectifying", company, scope=scope, expected_version=1,
                                    fields={"resp_person": "赵六", "measures": "重新接地"})
    hz = register.transition_hazard(session, hazard_id, "rectified", company, scope=scope,
                                    expected_version=hz.version, fields={"rectification_note": "已重新接地并检测"})
    assert (hz.state, hz.resp_person, hz.rectification_note, hz.rectified_by_id) == (
        "rectified", "赵六", "已重新接地并检测", cast.users["enterprise"].id)
    assert hz.rectified_on == dt.date.today()  # the date the lifecycle records, not the enterprise's
    with pytest.raises(Forbidden, match="无权修改字段：整改完成日期"):
        register.transition_hazard(session, cast.hazards["enterprise"], "rectifying", company, scope=scope,
                                   expected_version=1, fields={"rectified_on": "2026-03-02"})


# --------------------------------------------------------------------------- separation of duties


def to_rectified(session, cast: Cast, hazard_id: int, actor_role: str, *, major: bool) -> Hazard:  # type: ignore[no-untyped-def]
    """Bring a hazard to 已整改 with ``actor_role`` recording 整改完成."""
    actor, scope = cast.actor("regulator"), cast.scope("regulator")
    hz = session.get(Hazard, hazard_id)
    if major:
        hz = register.update_hazard(session, hazard_id, {"level": "major"}, actor, scope=scope,
                                    expected_version=hz.version)
    five = {"resp_person": "赵六", "measures": "重新接地", "funds_wan": "1", "deadline": "2026-06-30",
            "emergency_plan": "触电应急处置"} if major else {}
    hz = register.transition_hazard(session, hazard_id, "rectifying", actor, scope=scope,
                                    expected_version=hz.version, fields=five)
    return register.transition_hazard(session, hazard_id, "rectified", cast.actor(actor_role),
                                      scope=cast.scope(actor_role), expected_version=hz.version)


def add_after_photo(session, cast: Cast, hazard_id: int, upload_dir: Path, kind: str = "after") -> None:  # type: ignore[no-untyped-def]
    ev.store_evidence(session, hazard_id, io.BytesIO(PNG), f"{kind}.png", kind, cast.actor("enterprise"),
                      scope=cast.scope("enterprise"), upload_dir=upload_dir, max_bytes=1024)


def test_the_account_that_recorded_the_rectification_cannot_sign_it_off(session, tmp_path):
    cast = build_cast(session)
    hazard_id = cast.hazards["regulator"]
    hz = to_rectified(session, cast, hazard_id, "county", major=True)
    add_after_photo(session, cast, hazard_id, tmp_path)
    before = row_state(session, hazard_id)
    sign = {"verified_on": dt.date.today().isoformat(), "verification_note": "复查合格"}
    with pytest.raises(Forbidden, match="本人记录整改完成") as info:
        register.transition_hazard(session, hazard_id, "closed", cast.actor("county"), scope=cast.scope("county"),
                                   expected_version=hz.version, fields=sign)
    assert info.value.http_status == 403 and row_state(session, hazard_id) == before
    with pytest.raises(InvalidParameter, match="验收人"):  # the verifier is the account, never typed
        register.transition_hazard(session, hazard_id, "closed", cast.actor("county2"),
                                   scope=cast.scope("county2"), expected_version=hz.version,
                                   fields={**sign, "verifier": "张三"})
    hz = register.transition_hazard(session, hazard_id, "closed", cast.actor("county2"),
                                    scope=cast.scope("county2"), expected_version=hz.version, fields=sign)
    assert (hz.state, hz.verifier_id, hz.verifier, hz.rectified_by_id) == (
        "closed", cast.users["county2"].id, "个旧市应急局王五", cast.users["county"].id)
    last = session.scalars(sa.select(HazardEvent).where(HazardEvent.hazard_id == hazard_id)
                           .order_by(HazardEvent.id.desc())).first()
    assert (last.user_id, last.actor) == (cast.users["county2"].id, "个旧市应急局王五")


def test_the_database_refuses_a_verifier_who_recorded_the_rectification(session):
    cast = build_cast(session)
    hazard_id = cast.hazards["regulator"]
    to_rectified(session, cast, hazard_id, "county", major=False)
    with pytest.raises(sa.exc.IntegrityError, match="ck_hazard_verifier_not_rectifier"), session.begin_nested():
        session.execute(sa.update(Hazard).where(Hazard.id == hazard_id)
                        .values(verifier_id=cast.users["county"].id))


def test_a_major_hazard_needs_after_evidence_and_an_opinion(session, tmp_path):
    cast = build_cast(session)
    hazard_id = cast.hazards["regulator"]
    hz = to_rectified(session, cast, hazard_id, "enterprise", major=True)
    verifier, scope = cast.actor("county"), cast.scope("county")
    today = dt.date.today().isoformat()
    add_after_photo(session, cast, hazard_id, tmp_path, kind="before")  # 整改前 does not count
    before = row_state(session, hazard_id)
    with pytest.raises(IllegalTransition, match="尚缺：整改后佐证材料"):
        register.transition_hazard(session, hazard_id, "closed", verifier, scope=scope,
                                   expected_version=hz.version,
                                   fields={"verified_on": today, "verification_note": "复查合格"})
    assert row_state(session, hazard_id) == before
    add_after_photo(session, cast, hazard_id, tmp_path)
    before = row_state(session, hazard_id)
    with pytest.raises(IllegalTransition, match="验收意见") as info:
        register.transition_hazard(session, hazard_id, "closed", verifier, scope=scope,
                                   expected_version=hz.version, fields={"verified_on": today})
    assert info.value.http_status == 409 and info.value.user_msg.endswith("尚缺：验收意见（复查情况）")
    assert row_state(session, hazard_id) == before
    hz = register.transition_hazard(session, hazard_id, "closed", verifier, scope=scope,
                                    expected_version=hz.version,
                                    fields={"verified_on": today, "verification_note": "复查合格"})
    assert hz.state == "closed"


@pytest.mark.parametrize("setting", [False, True])
def test_a_general_hazard_needs_them_only_when_the_setting_asks(session, setting, tmp_path):
    cast = build_cast(session)
    hazard_id = cast.hazards["regulator"]
    hz = to_rectified(session, cast, hazard_id, "enterprise", major=False)
    sign = dict(scope=cast.scope("county"), expected_version=hz.version,
                fields={"verified_on": dt.date.today().isoformat()}, evidence_for_general=setting)
    if setting:
        with pytest.raises(IllegalTransition, match="一般隐患验收销号须有整改后佐证材料和验收意见"):
            register.transition_hazard(session, hazard_id, "closed", cast.actor("county"), **sign)
        add_after_photo(session, cast, hazard_id, tmp_path)
        sign["fields"] = {**sign["fields"], "verification_note": "复查合格"}
    hz = register.transition_hazard(session, hazard_id, "closed", cast.actor("county"), **sign)
    assert hz.state == "closed"


def test_sending_back_clears_the_rectifier(session):
    """After 退回整改 the next 整改完成 is recorded afresh: whoever records it may not sign it off."""
    cast = build_cast(session)
    hazard_id = cast.hazards["regulator"]
    hz = to_rectified(session, cast, hazard_id, "county", major=False)
    hz = register.transition_hazard(session, hazard_id, "rectifying", cast.actor("county2"),
                                    scope=cast.scope("county2"), expected_version=hz.version, note="接地电阻超标")
    assert hz.rectified_by_id is None
    hz = register.transition_hazard(session, hazard_id, "rectified", cast.actor("county2"),
                                    scope=cast.scope("county2"), expected_version=hz.version)
    with pytest.raises(Forbidden, match="本人记录整改完成"):
        register.transition_hazard(session, hazard_id, "closed", cast.actor("county2"),
                                   scope=cast.scope("county2"), expected_version=hz.version,
                                   fields={"verified_on": dt.date.today().isoformat()})
    hz = register.transition_hazard(session, hazard_id, "closed", cast.actor("county"),
                                    scope=cast.scope("county"), expected_version=hz.version,
                                    fields={"verified_on": dt.date.today().isoformat()})
    assert hz.verifier_id == cast.users["county"].id


# --------------------------------------------------------------------------- the importer obeys the same rules

HEADER = ["企业统一社会信用代码", "隐患描述", "隐患级别", "隐患来源", "发现日期", "整改期限", "整改状态",
          "整改责任人", "整改措施", "整改资金（万元）", "应急预案", "整改完成日期", "验收日期", "验收人",
          "复查情况"]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([HEADER, *rows])
    return path


def test_an_import_cannot_sign_off_a_major_hazard(session, tmp_path):
    cast = build_cast(session)
    code = credit_code(81)
    path = write_csv(tmp_path / "h.csv", [
        [code, "储罐区未设置紧急切断装置", "重大", "部门检查", "2026-02-01", "2026-03-01", "已验收销号",
         "钱七", "加装切断阀", "35", "专项预案", "2026-02-20", "2026-02-25", "赵六", "复查合格"],
        [code, "冲床护栏缺失", "一般", "部门检查", "2026-02-01", "2026-03-01", "已验收销号",
         "", "", "", "", "2026-02-20", "2026-02-25", "赵六", ""],
    ])
    result = importers.import_records(session, "hazards", path, actor=cast.actor("county"),
                                      scope=cast.scope("county"))
    assert not result.written and [e.row for e in result.errors] == [2]
    assert "不能由导入直接销号" in result.errors[0].reason
    result = importers.import_records(session, "hazards", path, actor=cast.actor("county"),
                                      scope=cast.scope("county"), evidence_for_general=True)
    assert [e.row for e in result.errors] == [2, 3]


def test_an_import_obeys_the_field_rules_of_its_account(session, tmp_path):
    cast = build_cast(session)
    code = credit_code(81)
    # the regulator's hazard, its level raised and its deadline moved by an enterprise account's file
    path = write_csv(tmp_path / "h.csv", [
        [code, "配电箱未接地", "重大", "部门检查", "2026-03-01", "2027-12-31", "已登记",
         "", "", "", "", "", "", "", ""],
    ])
    before = row_state(session, cast.hazards["regulator"])
    result = importers.import_records(session, "hazards", path, actor=cast.actor("enterprise"),
                                      scope=cast.scope("enterprise"))
    assert not result.written and "无权修改字段：隐患等级、整改期限" in result.errors[0].reason
    assert row_state(session, cast.hazards["regulator"]) == before
    # a regulator's import of the same file is its to make, and the hazard it inserts is a regulator's
    result = importers.import_records(session, "hazards", path, actor=cast.actor("county"),
                                      scope=cast.scope("county"))
    assert result.written and result.updated == 1
    new = write_csv(tmp_path / "n.csv", [[code, "梯子防滑缺失", "一般", "部门检查", "2026-03-03", "", "已登记",
                                          "", "", "", "", "", "", "", ""]])
    importers.import_records(session, "hazards", new, actor=cast.actor("county"), scope=cast.scope("county"))
    hz = session.scalars(sa.select(Hazard).where(Hazard.description == "梯子防滑缺失")).one()
    assert (hz.origin, hz.created_by_id) == ("regulator", cast.users["county"].id)
