"""A simulated clinic population written as FHIR R4 NDJSON (Patient, Condition,
MedicationRequest, Encounter), with a known effect of the target drug on the outcome and known
measured confounding: what `ocais ingest DIR --format fhir` then `ocais study run` must recover.

Everyone has atrial fibrillation (the indication) and starts warfarin (target, RxNorm 11289) or
apixaban (comparator, RxNorm 1364430) 30 days later. Older patients and those with diabetes or
chronic kidney disease get warfarin more often *and* have strokes more often, so the naive hazard
ratio is biased upward; the true hazard ratio of warfarin is ``true_hr``. With ``overlap=False``
the drug is nearly determined by diabetes: no study can compare the groups.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

SNOMED, RXNORM = "http://snomed.info/sct", "http://www.nlm.nih.gov/research/umls/rxnorm"
AF, STROKE = "49436004", "230690007"
DIABETES, CKD = "44054006", "431855005"
WARFARIN, APIXABAN = "11289", "1364430"
#: negative controls, neither drug causes them: headache, back pain, ankle sprain, otitis media,
#: acute bronchitis (drawn with the confounders' effect on health care use, so they share it)
CONTROLS = ("25064002", "161891005", "44465007", "65363002", "10509002")
FIRST_VISIT = dt.date(2010, 1, 4)


def _day(base: dt.date, days: float) -> str:
    return (base + dt.timedelta(days=int(days))).isoformat()


def write_population(
    out: Path, *, n: int = 2000, true_hr: float = 0.6, seed: int = 0, overlap: bool = True
) -> dict[str, Any]:
    """Write ``out/{Patient,Condition,MedicationRequest,Encounter}.ndjson``; returns the truth."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        k: (out / f"{k}.ndjson").open("w", encoding="utf-8")
        for k in ("Patient", "Condition", "MedicationRequest", "Encounter")
    }
    counter = 0
    treated = events = 0

    def write(kind: str, resource: dict[str, Any]) -> None:
        nonlocal counter
        counter += 1
        resource = {"resourceType": kind, "id": f"{kind[:3].lower()}{counter}", **resource}
        files[kind].write(json.dumps(resource) + "\n")

    for i in range(n):
        pid = f"p{i}"
        subject = {"reference": f"Patient/{pid}"}
        age = float(rng.uniform(40, 85))
        diabetes = rng.random() < 0.3
        ckd = rng.random() < 0.2
        female = rng.random() < 0.5
        first = FIRST_VISIT + dt.timedelta(days=int(rng.integers(0, 200)))
        af_date = first + dt.timedelta(days=int(400 + rng.integers(0, 400)))
        index = af_date + dt.timedelta(days=30)
        birth = index.year - int(age)
        if overlap:
            logit = -0.4 + 0.05 * (age - 62) + 1.0 * diabetes + 0.8 * ckd
        else:
            logit = 4.0 if diabetes else -4.0
        target = rng.random() < 1 / (1 + math.exp(-logit))
        treated += target
        hazard = 0.00035 * math.exp(
            math.log(true_hr) * target + 0.04 * (age - 62) + 0.7 * diabetes + 0.6 * ckd
        )
        follow = float(rng.uniform(400, 1095))
        t_event = float(rng.exponential(1 / hazard))
        sex = "female" if female else "male"
        write("Patient", {"id": pid, "gender": sex, "birthDate": f"{birth}-06-15"})
        write(
            "Encounter",
            {
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                },
                "subject": subject,
                "period": {"start": first.isoformat(), "end": first.isoformat()},
            },
        )
        for code, present, when in ((DIABETES, diabetes, first), (CKD, ckd, first)):
            if present:
                write(
                    "Condition",
                    {
                        "subject": subject,
                        "onsetDateTime": when.isoformat(),
                        "code": {"coding": [{"system": SNOMED, "code": code}]},
                    },
                )
        write(
            "Condition",
            {
                "subject": subject,
                "onsetDateTime": af_date.isoformat(),
                "code": {"coding": [{"system": SNOMED, "code": AF}]},
            },
        )
        write(
            "MedicationRequest",
            {
                "status": "active",
                "intent": "order",
                "subject": subject,
                "authoredOn": index.isoformat(),
                "medicationCodeableConcept": {
                    "coding": [{"system": RXNORM, "code": WARFARIN if target else APIXABAN}]
                },
            },
        )
        if t_event < follow:
            events += 1
            write(
                "Condition",
                {
                    "subject": subject,
                    "onsetDateTime": _day(index, 1 + t_event),
                    "code": {"coding": [{"system": SNOMED, "code": STROKE}]},
                },
            )
        for control in CONTROLS:
            rate = 0.0004 * math.exp(0.01 * (age - 62) + 0.2 * diabetes)
            when = float(rng.exponential(1 / rate))
            if when < follow:
                code = {"coding": [{"system": SNOMED, "code": control}]}
                write(
                    "Condition",
                    {"subject": subject, "onsetDateTime": _day(index, 1 + when), "code": code},
                )
        last = _day(index, follow)
        write(
            "Encounter",
            {
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                },
                "subject": subject,
                "period": {"start": last, "end": last},
            },
        )
    for handle in files.values():
        handle.close()
    return {"true_hr": true_hr, "n": n, "treated": treated, "events": events}


STUDY_YAML = """\
name: warfarin-vs-apixaban-stroke
target: {{medications: ["RxNorm:{warfarin}"]}}
comparator: {{medications: ["RxNorm:{apixaban}"]}}
indication: {{conditions: ["SNOMED:{af}"]}}
outcome: {{conditions: ["SNOMED:{stroke}"]}}
time_at_risk_days: [1, 1095]
washout_days: 365
covariates: auto
method: {method}
negative_controls: [{controls}]
"""


def study_yaml(method: str = "iptw") -> str:
    controls = ", ".join(f'"SNOMED:{c}"' for c in CONTROLS)
    return STUDY_YAML.format(
        warfarin=WARFARIN, apixaban=APIXABAN, af=AF, stroke=STROKE, controls=controls, method=method
    )
