"""The konlpy (Okt) backend inside a real Rasa training and a loaded model.

A light pipeline (logistic regression and CRF instead of DIET) keeps this
fast; what is under test is that the component registers, trains, persists,
loads and tokenizes for entity extraction with the JVM-backed analyser.
"""

from __future__ import annotations

import asyncio

import pytest
import yaml

from jikimi.settings import ROOT

pytestmark = pytest.mark.slow


def test_okt_pipeline_trains_loads_and_extracts(tmp_path):
    import rasa.model_training
    from rasa.core.agent import Agent

    config = {
        "recipe": "default.v1",
        "language": "ko",
        "assistant_id": "okt-test",
        "pipeline": [
            {
                "name": "bot.components.korean_tokenizer.KoreanMorphemeTokenizer",
                "backend": "konlpy",
                "konlpy_tagger": "Okt",
            },
            {"name": "CountVectorsFeaturizer"},
            {"name": "LogisticRegressionClassifier"},
            {"name": "CRFEntityExtractor"},
            {"name": "EntitySynonymMapper"},
        ],
        "policies": [],
    }
    config_path = tmp_path / "config.yml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True))
    model = rasa.model_training.train_nlu(
        str(config_path), str(ROOT / "data" / "nlu_ko"), str(tmp_path)
    )
    assert model
    agent = Agent.load(model)
    parsed = asyncio.run(agent.parse_message("텔레그램에 제 합성 사진이 올라왔어요"))
    assert parsed["intent"]["name"] == "report_incident"
    assert {e["value"] for e in parsed["entities"]} == {"telegram"}
    entity = parsed["entities"][0]
    assert parsed["text"][entity["start"] : entity["end"]] == "텔레그램"
