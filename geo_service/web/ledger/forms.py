"""Form plumbing for the ledger pages: typed values kept, errors placed next to
their fields, the risk calculator's server-side result (the truth; the
page's JavaScript only previews it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ... import domain
from ...services.register import FIVE_IMPLEMENTATIONS
from ...services.validation import RecordInvalid, field_of_header

__all__ = [
    "FormState",
    "ENTERPRISE_FIELDS",
    "RISK_POINT_FIELDS",
    "HAZARD_FIELDS",
    "HAZARD_EDIT_FIELDS",
    "TRANSITION_FORM_FIELDS",
    "LEC_CHOICES",
    "LS_CHOICES",
    "assess",
    "calculator_options",
    "record_errors",
    "transition_precheck",
    "transition_fields",
]

ENTERPRISE_FIELDS = (
    "credit_code", "name", "address", "industry", "region_code", "lng", "lat", "legal_rep",
    "contact_phone", "complaint_phone", "supervising_dept", "grade_override", "grade_override_note",
)
RISK_POINT_FIELDS = (
    "name", "location_desc", "accident_type", "grade", "method", "control_measures",
    "controls_implemented", "responsible_person", "assessed_on",
)
HAZARD_FIELDS = (
    "description", "level", "category", "criterion", "source", "found_on", "found_by", "deadline",
    "resp_person", "measures", "funds_wan", "emergency_plan", "supervision_doc_no", "rectification_note",
    "lng", "lat",
)
# What the edit page may show (a PATCH: never the state nor the lifecycle's dates);
# a page shows the ones the caller's field rules let it write.
HAZARD_EDIT_FIELDS = (
    "description", "level", "category", "criterion", "source", "supervision_doc_no", "found_on", "found_by",
    "deadline", "resp_person", "measures", "funds_wan", "emergency_plan", "rectification_note",
    "verification_note", "lng", "lat",
)
# What each step's form asks for (besides the note); a page shows the ones the
# caller's field rules let it write.  The 验收人 is the signing account, never typed.
TRANSITION_FORM_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("registered", "rectifying"): tuple(FIVE_IMPLEMENTATIONS),
    ("rectifying", "rectified"): ("rectified_on", "rectification_note"),
    ("rectified", "closed"): ("verified_on", "verification_note"),
    ("rectified", "rectifying"): (),
}

# LEC bands (DOMAIN.md): likelihood, exposure, consequence.
LEC_CHOICES: dict[str, tuple[float, ...]] = {
    "L": (10, 6, 3, 1, 0.5, 0.2, 0.1),
    "E": (10, 6, 3, 2, 1, 0.5),
    "C": (100, 40, 15, 7, 3, 1),
}
LS_CHOICES: dict[str, tuple[int, ...]] = {"L": (1, 2, 3, 4, 5), "S": (1, 2, 3, 4, 5)}
_LEC_WORDS: dict[str, tuple[str, ...]] = {
    "L": ("完全可以预料", "相当可能", "可能，但不经常", "可能性小，完全意外", "很不可能，可以设想",
          "极不可能", "实际不可能"),
    "E": ("连续暴露", "每天工作时间内暴露", "每周一次或偶然暴露", "每月一次暴露", "每年几次暴露",
          "非常罕见地暴露"),
    "C": ("大灾难，许多人死亡", "灾难，数人死亡", "非常严重，一人死亡", "严重，重伤", "重大，致残",
          "引人注目，需要救护"),
}
_LS_WORDS: dict[str, tuple[str, ...]] = {
    "L": ("极不可能", "不太可能", "可能", "很可能", "极可能"),
    "S": ("轻微", "较轻", "中等", "严重", "特别严重"),
}


def calculator_options() -> tuple[dict[str, list[tuple[str, str]]], dict[str, list[tuple[str, str]]]]:
    """(LEC options, LS options) for the calculator's selects: ``(value, "value 说明")``."""
    lec = {k: [(f"{v:g}", f"{v:g} {w}") for v, w in zip(vals, _LEC_WORDS[k], strict=True)]
           for k, vals in LEC_CHOICES.items()}
    ls = {k: [(str(v), f"{v} {w}") for v, w in zip(vals, _LS_WORDS[k], strict=True)]
          for k, vals in LS_CHOICES.items()}
    return lec, ls


@dataclass
class FormState:
    """What a form shows: the typed values, errors by field, errors for the whole form."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    @classmethod
    def from_form(cls, form: Mapping[str, str], names: tuple[str, ...]) -> FormState:
        return cls(values={n: (form.get(n) or "").strip() for n in names})

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.general

    def raw(self, *, skip: tuple[str, ...] = ()) -> dict[str, str]:
        """The non-blank values for the register service."""
        return {k: v for k, v in self.values.items() if v != "" and k not in skip}


def record_errors(state: FormState, kind: str, err: RecordInvalid) -> None:
    """Place a :class:`RecordInvalid`'s errors next to their fields (by Chinese header)."""
    for e in err.errors:
        name = field_of_header(kind, e.column)
        if name == "enterprise_credit_code":
            name = None
        if name is not None and name in state.values:
            state.add(name, e.reason)
        else:
            state.general.append(str(e))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def assess(method: str, params: Mapping[str, str], *, lec_thresholds: tuple[float, float, float],
           ls_thresholds: tuple[float, float, float]) -> tuple[dict[str, float] | None, Decimal | None,
                                                               int | None, dict[str, str]]:
    """The risk calculator: ``(method_params, score, proposed grade, errors by field)``.

    LEC: D = L×E×C graded with ``lec_thresholds``; LS: R = L×S with
    ``ls_thresholds``.  Form fields are ``lec_L``… and ``ls_L``/``ls_S``.

    >>> assess("LEC", {"lec_L": "3", "lec_E": "6", "lec_C": "15"},
    ...        lec_thresholds=(320, 160, 70), ls_thresholds=(20, 10, 4))[1:3]
    (Decimal('270'), 2)
    >>> assess("LS", {"ls_L": "4", "ls_S": "5"}, lec_thresholds=(320, 160, 70),
    ...        ls_thresholds=(20, 10, 4))[1:3]
    (Decimal('20'), 1)
    """
    choices = LEC_CHOICES if method == "LEC" else LS_CHOICES if method == "LS" else None
    if choices is None:
        return None, None, None, {}
    prefix = "lec_" if method == "LEC" else "ls_"
    values: dict[str, float] = {}
    errors: dict[str, str] = {}
    for key, allowed in choices.items():
        text = (params.get(prefix + key) or "").strip()
        if not text:
            errors[prefix + key] = "请选择"
            continue
        number = _number(text)
        if number is None or number not in allowed:
            errors[prefix + key] = f"取值应为 {'、'.join(f'{a:g}' for a in allowed)} 之一"
            continue
        values[key] = number
    if errors:
        return None, None, None, errors
    product = 1.0
    for v in values.values():
        product *= v
    score = Decimal(str(round(product, 2))).normalize()
    if score == score.to_integral_value():
        score = score.quantize(Decimal(1))
    grade = (domain.lec_grade(product, lec_thresholds) if method == "LEC"
             else domain.ls_grade(product, ls_thresholds))
    return values, score, grade, {}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def transition_precheck(state: FormState, hazard: Mapping[str, Any], step: tuple[str, str],
                        note: str, shown: tuple[str, ...] | None = None) -> None:
    """The fields a step needs, flagged next to the field before the service refuses the
    whole step (the service re-checks: it is the rule, this is the form's courtesy).
    A needed field the caller's form does not show (``shown``) is reported for the form."""
    source, target = step
    shown = TRANSITION_FORM_FIELDS[step] if shown is None else shown
    if source == "registered" and hazard["level"] == "major":
        for key, label in FIVE_IMPLEMENTATIONS.items():
            if _blank(state.values.get(key)) and _blank(hazard.get(key)):
                if key in shown:
                    state.add(key, f"重大隐患须落实“五落实”：{label}不能为空")
                else:
                    state.general.append(f"重大隐患须落实“五落实”：{label}尚未确定，须由监管部门填写")
    if target == "closed":
        if _blank(state.values.get("verified_on")):
            state.add("verified_on", "验收销号须填写验收日期")
    if step == ("rectified", "rectifying") and _blank(note):
        state.add("note", "退回整改须说明验收不通过的原因")


def transition_fields(state: FormState, step: tuple[str, str]) -> dict[str, str]:
    """The non-blank values the step's form filled in, for ``transition_hazard(fields=…)``."""
    return {k: v for k, v in state.values.items()
            if k in TRANSITION_FORM_FIELDS[step] and not _blank(v)}


def default_date(today: dt.date) -> str:
    return today.isoformat()
