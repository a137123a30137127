"""The closed loop: writes validated, scoped, optimistic-locked, evented and audited."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import sqlalchemy as sa
from queries.world import add_regions, build_world, credit_code

from geo_service.domain import Actor
from geo_service.errors import (
    Forbidden,
    IllegalTransition,
    InvalidParameter,
    NotFound,
    OutOfJurisdiction,
    VersionConflict,
)
from geo_service.models import AuditLog, Enterprise, Hazard, HazardEvent
from geo_service.queries.scope import ALL, Scope
from geo_service.services import accounts, register
from geo_service.services import evidence as ev
from geo_service.services.validation import RecordInvalid

ACTOR = Actor("测试员", None, "regulator")


def new_enterprise(session, n=50, **kw):
    raw = {"credit_code": credit_code(n), "name": "新企业", "industry": "工贸/机械",
           "lng": 103.3, "lat": 23.4, **kw}
    return register.create_enterprise(session, raw, ACTOR, scope=ALL)


def audit_rows(session, object_type, object_id):
    return session.execute(sa.select(AuditLog).where(AuditLog.object_type == object_type,
                                                     AuditLog.object_id == str(object_id))
                           .order_by(AuditLog.id)).scalars().all()


def events(session, hazard_id):
    return session.execute(sa.select(HazardEvent).where(HazardEvent.hazard_id == hazard_id)
                           .order_by(HazardEvent.id)).scalars().all()


def test_create_enterprise_places_it_in_its_county_and_audits(session):
    add_regions(session)
    ent = new_enterprise(session)
    assert ent.region_code == "532501"  # 103.3 E is west of the 103.5 E county line
    assert ent.version == 1 and ent.grade is None
    rows = audit_rows(session, "enterprise", ent.id)
    assert [(r.action, r.actor, r.before) for r in rows] == [("create", "测试员", None)]
    assert rows[0].after["name"] == "新企业" and rows[0].after["geom"] == "POINT (103.3 23.4)"


def test_create_enterprise_converts_gcj02(session):
    add_regions(session)
    raw = {"credit_code": credit_code(51), "name": "高德坐标企业", "industry": "hazchem",
           "lng": 103.3, "lat": 23.4}
    ent = register.create_enterprise(session, raw, ACTOR, scope=ALL, datum="gcj02")
    lng, lat = session.execute(sa.select(sa.func.ST_X(Enterprise.geom), sa.func.ST_Y(Enterprise.geom))
                               .where(Enterprise.id == ent.id)).one()
    # GCJ-02 is offset a few hundred metres from WGS84; the stored point is not the input
    assert 0.001 < abs(lng - 103.3) + abs(lat - 23.4) < 0.02


def test_invalid_enterprise_is_rejected_with_field_errors(session):
    add_regions(session)
    with pytest.raises(RecordInvalid, match="统一社会信用代码") as info:
        register.create_enterprise(session, {"credit_code": "123", "name": "x", "industry": "工贸",
                                             "lng": 103.3, "lat": 23.4}, ACTOR, scope=ALL)
    assert any(e.column == "统一社会信用代码" for e in info.value.errors)
    with pytest.raises(RecordInvalid, match="已登记"):
        new_enterprise(session, n=60)
        new_enterprise(session, n=60)
    with pytest.raises(InvalidParameter, match="grade"):
        new_enterprise(session, n=61, grade=1)  # the overall grade is derived, not posted


def test_create_enterprise_outside_scope_is_forbidden_and_leaves_nothing(session):
    add_regions(session)
    with pytest.raises(OutOfJurisdiction):
        register.create_enterprise(session, {"credit_code": credit_code(70), "name": "越界",
                                             "industry": "工贸", "lng": 103.3, "lat": 23.4},
                                   ACTOR, scope=Scope(region="532502"))
    session.rollback()
    assert session.execute(sa.select(Enterprise).where(Enterprise.credit_code == credit_code(70))).first() is None


def test_grade_follows_risk_points(session):
    add_regions(session)
    ent = new_enterprise(session)
    rp = register.create_risk_point(session, ent.id, {"name": "冲压车间", "grade": "黄"}, ACTOR, scope=ALL)
    assert ent.grade_auto == 3 and ent.grade == 3
    register.create_risk_point(session, ent.id, {"name": "喷涂车间", "grade": "橙"}, ACTOR, scope=ALL)
    assert ent.grade == 2
    register.update_risk_point(session, rp.id, {"grade": "红"}, ACTOR, scope=ALL, expected_version=1)
    session.refresh(ent)
    assert ent.grade == 1 and rp.version == 2
    register.update_enterprise(session, ent.id, {"grade_override": "蓝"}, ACTOR, scope=ALL, expected_version=1)
    assert (ent.grade_auto, ent.grade_override, ent.grade) == (1, 4, 4)


def test_update_enterprise_moves_it_to_the_other_county(session):
    add_regions(session)
    ent = new_enterprise(session)
    register.update_enterprise(session, ent.id, {"lng": 103.8, "lat": 23.4}, ACTOR, scope=ALL,
                               expected_version=1)
    assert ent.region_code == "532502" and ent.version == 2
    before, after = audit_rows(session, "enterprise", ent.id)[-1].before, audit_rows(session, "enterprise", ent.id)[-1].after
    assert before["region_code"] == "532501" and after["region_code"] == "532502"


def test_stale_version_is_a_conflict_and_nothing_is_lost(session):
    add_regions(session)
    ent = new_enterprise(session)
    # two clients read version 1; the first saves its address
    register.update_enterprise(session, ent.id, {"address": "第一人"}, ACTOR, scope=ALL, expected_version=1)
    with pytest.raises(VersionConflict):
        register.update_enterprise(session, ent.id, {"address": "第二人"}, ACTOR, scope=ALL, expected_version=1)
    session.refresh(ent)
    assert ent.address == "第一人" and ent.version == 2
    assert len(audit_rows(session, "enterprise", ent.id)) == 2  # create + the one update


def test_reads_and_writes_outside_scope_are_not_found(session):
    """Another county's record answers exactly as a missing one, for reads and writes (no existence oracle)."""
    w = build_world(session)
    other = Scope(region="532502")  # the mill's county; the plant lies in 532501
    with pytest.raises(NotFound):
        register.load_enterprise(session, w.plant.id, scope=other)
    with pytest.raises(NotFound, match=f"^企业 {w.plant.id} 不存在$"):
        register.update_enterprise(session, w.plant.id, {"address": "x"}, ACTOR, scope=other, expected_version=1)
    with pytest.raises(NotFound, match=f"^隐患 {w.h_general_open.id} 不存在$"):
        register.transition_hazard(session, w.h_general_open.id, "rectifying", ACTOR, scope=other,
                                   expected_version=1)
    with pytest.raises(NotFound):
        register.update_enterprise(session, 999999, {"address": "x"}, ACTOR, scope=ALL, expected_version=1)


def major_hazard(session, ent, **kw):
    raw = {"description": "储罐区可燃气体报警器失效", "level": "重大", "source": "部门检查",
           "found_on": "2026-03-01", **kw}
    return register.create_hazard(session, ent.id, raw, ACTOR, scope=ALL)


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_full_lifecycle_of_a_major_hazard(session, tmp_path):
    add_regions(session)
    ent = new_enterprise(session)
    rectifier_user = accounts.create_user(session, "zhengai", "pw-zhengai-2026", "regulator", region_code="532501",
                                          display_name="整改记录员")
    verifier_user = accounts.create_user(session, "yanshou", "pw-yanshou-2026", "regulator", region_code="532501",
                                         display_name="验收员王五")
    rectifier, verifier = accounts.actor_for(rectifier_user), accounts.actor_for(verifier_user)
    hz = major_hazard(session, ent)
    assert hz.state == "registered" and hz.criterion == "trade"  # 工贸 enterprise → 工贸 criterion
    with pytest.raises(IllegalTransition, match="五落实.*整改责任人"):
        register.transition_hazard(session, hz.id, "rectifying", ACTOR, scope=ALL, expected_version=1)
    five = {"resp_person": "赵六", "measures": "更换报警器", "funds_wan": "3.5",
            "deadline": "2026-04-01", "emergency_plan": "燃爆应急预案"}
    register.transition_hazard(session, hz.id, "整改中", ACTOR, scope=ALL, expected_version=1,
                               note="制定方案", fields=five)
    assert hz.state == "rectifying" and hz.version == 2 and hz.resp_person == "赵六"
    register.transition_hazard(session, hz.id, "rectified", rectifier, scope=ALL, expected_version=2,
                               fields={"rectified_on": "2026-03-20"})
    assert hz.rectified_by_id == rectifier_user.id
    with pytest.raises(IllegalTransition, match="验收日期"):
        register.transition_hazard(session, hz.id, "closed", verifier, scope=ALL, expected_version=3)
    register.transition_hazard(session, hz.id, "rectifying", verifier, scope=ALL, expected_version=3,
                               note="报警器未联动")
    assert hz.rectified_on is None and hz.verification_note == "报警器未联动" and hz.rectified_by_id is None
    register.transition_hazard(session, hz.id, "rectified", rectifier, scope=ALL, expected_version=4,
                               fields={"rectified_on": "2026-03-25"})
    ev.store_evidence(session, hz.id, io.BytesIO(PNG), "after.png", "after", rectifier, scope=ALL,
                      upload_dir=tmp_path, max_bytes=1024)
    register.transition_hazard(session, hz.id, "closed", verifier, scope=ALL, expected_version=5,
                               fields={"verified_on": "2026-03-28", "verification_note": "报警器已联动，复查合格"},
                               note="验收合格")
    # the verifier is the signing account, its name recorded beside its id
    assert (hz.state, hz.verifier, hz.verifier_id, hz.verified_on) == (
        "closed", "验收员王五", verifier_user.id, dt.date(2026, 3, 28))
    trail = [(e.from_state, e.to_state, e.actor) for e in events(session, hz.id)]
    assert trail == [(None, "registered", "测试员"), ("registered", "rectifying", "测试员"),
                     ("rectifying", "rectified", "整改记录员"), ("rectified", "rectifying", "验收员王五"),
                     ("rectifying", "rectified", "整改记录员"), ("rectified", "closed", "验收员王五")]
    assert "复查情况：报警器已联动，复查合格" in events(session, hz.id)[-1].note
    # one audit row per write: create + 5 transitions
    assert [r.action for r in audit_rows(session, "hazard", hz.id)] == ["create"] + ["transition"] * 5


@pytest.mark.parametrize("path,to_state", [
    (["rectifying"], "registered"),      # no way back to 已登记
    ([], "rectified"),                   # cannot skip 整改中
    ([], "closed"),                      # cannot close straight away
    (["rectifying"], "closed"),          # cannot close before 已整改
])
def test_illegal_transitions_are_refused_with_a_reason(session, path, to_state):
    add_regions(session)
    ent = new_enterprise(session)
    hz = register.create_hazard(session, ent.id, {"description": "护栏缺失", "level": "一般", "source": "self",
                                                  "found_on": "2026-03-01"}, ACTOR, scope=ALL)
    for step in path:
        register.transition_hazard(session, hz.id, step, ACTOR, scope=ALL, expected_version=hz.version)
    version = hz.version
    with pytest.raises(IllegalTransition, match="不能从"):
        register.transition_hazard(session, hz.id, to_state, ACTOR, scope=ALL, expected_version=version)
    assert hz.version == version and len(events(session, hz.id)) == 1 + len(path)


def test_closed_is_final_and_stale_transition_conflicts(session):
    w = build_world(session)
    with pytest.raises(IllegalTransition, match="最终状态"):
        register.transition_hazard(session, w.h_closed.id, "rectifying", ACTOR, scope=ALL, expected_version=1)
    with pytest.raises(VersionConflict):
        register.transition_hazard(session, w.h_general_open.id, "rectifying", ACTOR, scope=ALL,
                                   expected_version=7)
    session.refresh(w.h_general_open)
    assert w.h_general_open.state == "registered"


def test_role_permissions(session):
    w = build_world(session)
    readonly = Actor("只读", None, "readonly")
    with pytest.raises(Forbidden):
        register.update_enterprise(session, w.plant.id, {"address": "x"}, readonly, scope=ALL, expected_version=1)
    company = Actor("企业", None, "enterprise")
    with pytest.raises(Forbidden, match="企业自查"):
        register.create_hazard(session, w.plant.id, {"description": "x", "level": "一般", "source": "inspection",
                                                     "found_on": "2026-03-01"}, company,
                               scope=Scope(enterprise_id=w.plant.id))
    register.transition_hazard(session, w.h_general_open.id, "rectifying", company,
                               scope=Scope(enterprise_id=w.plant.id), expected_version=1)
    register.transition_hazard(session, w.h_general_open.id, "rectified", company,
                               scope=Scope(enterprise_id=w.plant.id), expected_version=2)
    with pytest.raises(Forbidden):  # the enterprise cannot sign off its own hazard
        register.transition_hazard(session, w.h_general_open.id, "closed", company,
                                   scope=Scope(enterprise_id=w.plant.id), expected_version=3,
                                   fields={"verified_on": "2026-03-20"})


def test_update_hazard_never_changes_state(session):
    w = build_world(session)
    with pytest.raises(InvalidParameter, match="state"):
        register.update_hazard(session, w.h_general_open.id, {"state": "closed"}, ACTOR, scope=ALL,
                               expected_version=1)
    hz = register.update_hazard(session, w.h_general_open.id, {"deadline": "2026-05-01"}, ACTOR, scope=ALL,
                                expected_version=1)
    assert hz.deadline == dt.date(2026, 5, 1) and hz.version == 2
    # a major hazard in progress cannot lose one of its 五落实
    with pytest.raises(RecordInvalid, match="五落实"):
        register.update_hazard(session, w.h_major_overdue.id, {"measures": ""}, ACTOR, scope=ALL,
                               expected_version=1)
    assert session.get(Hazard, w.h_major_overdue.id).measures == "更换阀门"
