"""The GenAI use cases: which backend settings choose, the status check, calibration of the
rag weight (measured, stored per model, used by the next rag), letters from structured cases."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ocais.config import load_settings
from ocais.errors import ConfigError, LLMUnavailableError
from ocais.llm.none_backend import NoLLM
from ocais.llm.openai_backend import OpenAIBackend
from ocais.predict.generative import RagPredictor
from ocais.workflows import build_services
from ocais.workflows.genai import (
    Calibration,
    backend_name,
    calibrate_llm,
    check_llm,
    llm_status,
    llm_weights,
    open_llm,
    write_letter_for_case,
)
from tests.helpers import packet
from tests.llm.fakes import ScriptedLLM, rank_answer


def test_settings_choose_the_backend(tmp_path: Path) -> None:
    off = load_settings(data_dir=tmp_path)
    assert backend_name(off) == "none" and "off" in llm_status(off)
    assert isinstance(open_llm(off).inner, NoLLM)  # type: ignore[attr-defined]
    on = load_settings(data_dir=tmp_path, llm_url="http://127.0.0.1:9/v1", llm_model="m")
    assert backend_name(on) == "openai" and "http://127.0.0.1:9/v1" in llm_status(on)
    assert isinstance(open_llm(on).inner, OpenAIBackend)  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="OCAIS_LLM_URL"):
        open_llm(load_settings(data_dir=tmp_path, llm_backend="openai"))


def test_check_llm_reports_what_answers(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, llm_url="http://127.0.0.1:9/v1")
    fine = check_llm(build_services(settings, llm=ScriptedLLM(answer=lambda _p: "OK")))
    assert fine["ok"] and fine["model"] == "scripted-1" and fine["rag_weight"] == 0.0
    down = ScriptedLLM(fail=LLMUnavailableError("the LLM server cannot be reached"))
    failed = check_llm(build_services(settings, llm=down))
    assert not failed["ok"] and failed["error"] == "llm_unavailable"
    assert check_llm(build_services(load_settings(data_dir=tmp_path)))["ok"] is False


def test_weights_come_from_the_setting_or_the_calibration(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert llm_weights(settings)("any") == 0.0
    Calibration.load(tmp_path).save("m1", {"weight": 2.0})
    assert llm_weights(settings)("m1") == 2.0 and llm_weights(settings)("m2") == 0.0
    assert llm_weights(load_settings(data_dir=tmp_path, llm_weight=0.5))("m1") == 0.5
    (tmp_path / "llm-calibration.json").write_text("not json")
    with pytest.raises(ConfigError, match="calibrate"):
        llm_weights(settings)


@pytest.mark.slow
def test_calibration_keeps_the_weight_that_helps(
    tmp_path: Path,
    real_kb,
    phenopacket_archive: Path,  # type: ignore[no-untyped-def]
) -> None:
    """A model that always puts the truth first earns weight; one that always puts a wrong
    candidate first gets 0 — and rag uses the measured weight."""
    import tarfile

    folder = tmp_path / "dev"
    folder.mkdir()
    with tarfile.open(phenopacket_archive) as tar:
        members = [m for m in tar.getmembers() if m.name.endswith(".json")][:12]
        for i, member in enumerate(members):
            handle = tar.extractfile(member)
            assert handle is not None
            (folder / f"{i}.json").write_bytes(handle.read())
    settings = load_settings(data_dir=tmp_path / "data")

    truths: set[str] = set()
    for path in folder.iterdir():
        data = json.loads(path.read_text())
        for interpretation in data.get("interpretations", []):
            truths.add(real_kb.disease_group(interpretation["diagnosis"]["disease"]["id"]))

    def numbered(prompt: str) -> list[tuple[int, bool]]:
        """(number, is a true diagnosis) of each candidate line of the prompt."""
        found = []
        for line in prompt.split("[user]")[-1].splitlines():
            head, _, rest = line.partition(". ")
            if head.isdigit() and "[" in rest:
                disease = rest.split("[", 1)[1].split("]", 1)[0]
                found.append((int(head), real_kb.disease_group(disease) in truths))
        return found

    def oracle(prompt: str) -> str:  # puts the truth first when it is among the candidates
        hits = [n for n, true in numbered(prompt) if true]
        return rank_answer(hits[:1] or [1])

    def hostile(prompt: str) -> str:  # puts a wrong candidate first, always
        return rank_answer([next(n for n, true in numbered(prompt) if not true)])

    services = build_services(settings, knowledge=real_kb, llm=ScriptedLLM(answer=oracle))
    result = calibrate_llm(services, folder, limit=12)
    assert result["model"] == "scripted-1" and result["n_cases"] > 0
    by_weight = {row["weight"]: row["top1"] for row in result["by_weight"]}
    assert result["weight"] > 0 and by_weight[result["weight"]] >= by_weight[0.0]
    rag = build_services(settings, knowledge=real_kb, llm=ScriptedLLM()).predictor("rag")
    assert isinstance(rag, RagPredictor) and rag.weight == result["weight"]

    hostile = build_services(
        load_settings(data_dir=tmp_path / "data2"),
        knowledge=real_kb,
        llm=ScriptedLLM(answer=hostile, model_name="hostile"),
    )
    assert calibrate_llm(hostile, folder, limit=12)["weight"] == 0.0
    shutil.rmtree(folder)


def test_letter_from_a_phenopacket(tmp_path: Path, tiny_kb) -> None:  # type: ignore[no-untyped-def]
    from ocais.workflows.cases import read_phenopacket

    services = build_services(load_settings(data_dir=tmp_path), knowledge=tiny_kb)
    case = read_phenopacket(services, packet())
    letter = write_letter_for_case(services, case)
    assert letter.written.source == "template"
    assert "female, 3.5 years old" in letter.markdown and "Seizure" in letter.markdown
    # tonic-clonic seizures without visual impairment: disease B (see tests/conftest.py)
    assert letter.as_dict()["differential"][0]["disease_id"] == "OMIM:100002"
