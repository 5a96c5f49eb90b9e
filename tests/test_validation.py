"""recsim_lab.validation, and every config and agent constructor refusing bad values through it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from agents.content import ContentAgent
from agents.funk_svd import FunkSVDAgent
from agents.helpers.sentence_model import EncodeSettings
from agents.hybrid import HybridAgent
from agents.oracle import OracleAgent
from recsim_lab.evaluation.evaluate import EvaluateConfig
from recsim_lab.run.runner import RunConfig
from recsim_lab.validation import ParameterTypeError, check_choice, check_fields, check_scalar, check_sequence
from recsim_lab.worlds.calibration import CalibrationConfig
from recsim_lab.worlds.catalogue_users import CatalogueUsersConfig
from recsim_lab.worlds.importing import ImportConfig
from recsim_lab.worlds.synthetic import SyntheticConfig
from recsim_lab.worlds.world import Rules

POSITIVE_FLOAT = {"min_val": 0.0, "include_boundaries": "neither"}


@pytest.mark.parametrize(("value", "target_type", "bounds", "expected"), [
    (3, int, {"min_val": 1}, 3),
    (1, int, {"min_val": 1}, 1),                      # closed bound: the bound itself is allowed
    (np.int64(7), int, {}, 7),                        # a NumPy integer comes back as a Python int
    (2**70, int, {"min_val": 0}, 2**70),
    (0.5, float, POSITIVE_FLOAT, 0.5),
    (2, float, POSITIVE_FLOAT, 2),                    # an int is a float, and stays an int
    (np.float32(0.25), float, {}, 0.25),
    (np.int32(4), float, {}, 4.0),
    (1.0, float, {"min_val": 0.0, "max_val": 1.0}, 1.0),
    (None, int, {"min_val": 1, "allow_none": True}, None),
    ("auto", str, {}, "auto"),
    (False, bool, {}, False),
    ("x", (int, str), {}, "x"),
])
def test_check_scalar_accepts(value, target_type, bounds, expected):
    result = check_scalar(value, "p", target_type, **bounds)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(("value", "target_type", "bounds", "error", "message"), [
    ("fast", float, POSITIVE_FLOAT, ParameterTypeError,
     "learning_rate must be a float in (0, inf), got 'fast' (str)"),
    (0, float, POSITIVE_FLOAT, ValueError, "learning_rate must be a float in (0, inf), got 0 (int)"),
    (-0.5, float, {"min_val": 0.0}, ValueError, "learning_rate must be a float in [0, inf), got -0.5 (float)"),
    (True, int, {}, ParameterTypeError, "learning_rate must be an integer, got True (bool)"),
    (True, float, {}, ParameterTypeError, "learning_rate must be a float, got True (bool)"),
    (3000.5, int, {}, ParameterTypeError, "learning_rate must be an integer, got 3000.5 (float)"),
    (3.0, int, {}, ParameterTypeError, "learning_rate must be an integer, got 3.0 (float)"),
    (float("nan"), float, {}, ParameterTypeError, "learning_rate must be a float, got nan (float)"),
    (np.inf, float, {"min_val": 0.0}, ParameterTypeError, "learning_rate must be a float in [0, inf), got inf"),
    (np.float64(-np.inf), float, {}, ParameterTypeError, "learning_rate must be a float, got"),
    (None, int, {"min_val": 1}, ParameterTypeError, "learning_rate must be an integer in [1, inf), got None"),
    ("3", int, {}, ParameterTypeError, "learning_rate must be an integer, got '3' (str)"),
    (1.0, float, {"max_val": 1.0, "include_boundaries": "left"}, ValueError,
     "learning_rate must be a float in (-inf, 1), got 1.0 (float)"),
    (0, int, {"min_val": 0, "max_val": 5, "include_boundaries": "right"}, ValueError,
     "learning_rate must be an integer in (0, 5], got 0 (int)"),
    (6, int, {"min_val": 0, "max_val": 5}, ValueError, "learning_rate must be an integer in [0, 5], got 6 (int)"),
    (0, int, {"min_val": 1, "allow_none": True}, ValueError,
     "learning_rate must be an integer in [1, inf) or None, got 0 (int)"),
    (1, str, {}, ParameterTypeError, "learning_rate must be a string, got 1 (int)"),
    (1, bool, {}, ParameterTypeError, "learning_rate must be a bool, got 1 (int)"),
    ("x" * 100, int, {}, ParameterTypeError, "got '" + "x" * 76 + "... (str)"),
])
def test_check_scalar_refuses(value, target_type, bounds, error, message):
    with pytest.raises(error) as raised:
        check_scalar(value, "learning_rate", target_type, **bounds)
    assert message in str(raised.value)
    # a wrong type is a TypeError (and a ValueError, as these checks raised before); a bad value is not a TypeError
    assert isinstance(raised.value, ValueError)
    assert isinstance(raised.value, TypeError) == (error is ParameterTypeError)


def test_check_scalar_refuses_an_unknown_boundary_rule():
    with pytest.raises(ValueError, match="include_boundaries must be one of"):
        check_scalar(1, "p", int, min_val=0, include_boundaries="open")


def test_check_choice():
    assert check_choice("test", "split", ("train", "test")) == "test"
    assert check_choice(None, "choice", ("softmax", None)) is None
    with pytest.raises(ValueError, match=re.escape("split must be one of 'train', 'test', got 'val' (str)")):
        check_choice("val", "split", ("train", "test"))
    with pytest.raises(ValueError, match="got 1 "):
        check_choice(1, "flag", (True, False))  # 1 == True, but is not the bool
    with pytest.raises(ValueError, match=re.escape("got ['train'] (list)")):
        check_choice(["train"], "split", ("train", "test"))


def test_check_sequence():
    assert check_sequence(["funk_svd", "content"], "children", str, min_length=1) == ("funk_svd", "content")
    assert check_sequence((np.int64(2), 3), "slots", int, min_val=0) == (2, 3)
    assert check_sequence([], "weights", float) == ()
    for value, error, message in [
        ("funk_svd", ParameterTypeError, "children must be a list or tuple, got 'funk_svd' (str)"),
        ({"a": 1}, ParameterTypeError, "children must be a list or tuple, got {'a': 1} (dict)"),
        ([], ValueError, "children must have at least 1 item(s), got [] (list)"),
        (["funk_svd", 3], ParameterTypeError, "children[1] must be a string, got 3 (int)"),
        (["funk_svd", ""], ValueError, "children[1] must be a non-empty string, got ''"),
    ]:
        with pytest.raises(error, match=re.escape(message)):
            check_sequence(value, "children", str, min_length=1)
    with pytest.raises(ValueError, match=re.escape("slots[0] must be an integer in [0, inf), got -1 (int)")):
        check_sequence([-1, 6], "slots", int, min_val=0)


def test_check_fields_stores_python_numbers_back_even_when_frozen():
    @dataclass(frozen=True)
    class Config:
        size: int = 1
        rate: float = 0.5

    config = Config(size=np.int64(4), rate=np.float32(0.5))
    check_fields(config, ("size",), int, min_val=1)
    check_fields(config, ("rate",), float)
    assert (config.size, config.rate) == (4, 0.5) and (type(config.size), type(config.rate)) == (int, float)
    with pytest.raises(ValueError, match=re.escape("Config.size must be an integer in [5, inf), got 4 (int)")):
        check_fields(config, ("size",), int, prefix="Config.", min_val=5)


@pytest.mark.parametrize(("make", "options", "message"), [
    (SyntheticConfig, {"n_items": 3000.5}, "n_items must be an integer in [5, inf), got 3000.5 (float)"),
    (SyntheticConfig, {"seed": -1}, "seed must be an integer in [0, inf), got -1 (int)"),
    (SyntheticConfig, {"n_train_users": 11, "n_users": 10}, "n_train_users must be an integer in [0, 10], got 11"),
    (SyntheticConfig, {"dim": 1}, "dim must be an integer in [2, inf), got 1"),
    (SyntheticConfig, {"mean_history": 2.0}, "mean_history must be a float in [3, inf), got 2.0"),
    (SyntheticConfig, {"history_rounds": "many"}, "history_rounds must be an integer in [0, inf), got 'many'"),
    (SyntheticConfig, {"exposure_focus": 1.5}, "exposure_focus must be a float in [0, 1], got 1.5"),
    (SyntheticConfig, {"rules": {"horizon": 10}}, "rules must be a Rules, got {'horizon': 10} (dict)"),
    (Rules, {"horizon": 1.5}, "Rules.horizon must be an integer in [1, inf), got 1.5"),
    (Rules, {"temperature": 0.0}, "Rules.temperature must be a float in (0, inf), got 0.0"),
    (Rules, {"no_click_threshold": "high"}, "Rules.no_click_threshold must be a float, got 'high' (str)"),
    (CalibrationConfig, {"alpha": True}, "CalibrationConfig.alpha must be a float in (0, inf), got True (bool)"),
    (CalibrationConfig, {"seed": -2}, "CalibrationConfig.seed must be an integer in [0, inf), got -2"),
    (CatalogueUsersConfig, {"mean_clicks": 2.0}, "CatalogueUsersConfig.mean_clicks must be a float in [6, inf)"),
    (CatalogueUsersConfig, {"seed": 0.5}, "CatalogueUsersConfig.seed must be an integer in [0, inf), got 0.5"),
    (ImportConfig, {"holdout": 1}, "holdout must be a float in (0, 1), got 1 (int)"),
    (ImportConfig, {"choice": "logit"}, "choice must be one of 'softmax', 'replay', got 'logit' (str)"),
    (ImportConfig, {"calibration": {"factors": 8}}, "calibration must be a CalibrationConfig or None"),
    (EncodeSettings, {"batch_size": 0}, "batch_size must be an integer in [1, inf), got 0"),
    (EncodeSettings, {"threads": 2.0}, "threads must be an integer in [1, inf) or None, got 2.0"),
    (RunConfig, {"episodes": "5"}, "episodes must be an integer in [1, inf), got '5' (str)"),
    (RunConfig, {"choice": "greedy"}, "choice must be one of 'softmax', 'replay', None, got 'greedy' (str)"),
    (RunConfig, {"agent_options": ["factors=3"]}, "agent_options must be a dict, got ['factors=3'] (list)"),
    (RunConfig, {"original_ids": "yes"}, "original_ids must be a bool, got 'yes' (str)"),
    (FunkSVDAgent, {"learning_rate": "fast"}, "learning_rate must be a float in (0, inf), got 'fast' (str)"),
    (FunkSVDAgent, {"factors": 0}, "factors must be an integer in [1, inf), got 0 (int)"),
    (FunkSVDAgent, {"online_steps": True}, "online_steps must be an integer in [0, inf), got True (bool)"),
    (ContentAgent, {"decay": "slow"}, "decay must be a float in [0, 1], got 'slow' (str)"),
    (ContentAgent, {"show_progress": 1}, "show_progress must be a bool, got 1 (int)"),
    (HybridAgent, {"children": "funk_svd"}, "children must be a list or tuple, got 'funk_svd' (str)"),
    (HybridAgent, {"children": []}, "children must have at least 1 item(s), got [] (list)"),
    (HybridAgent, {"weights": [0.8, "0.2"]}, "weights[1] must be a float, got '0.2' (str)"),
    (HybridAgent, {"slots": 5, "mode": "slots"}, "slots must be a list or tuple, got 5 (int)"),
    (HybridAgent, {"child_options": {"funk_svd": 3}}, "child_options['funk_svd'] must be a dict, got 3 (int)"),
    (HybridAgent, {"encoder": 7}, "encoder must be a string or None, got 7 (int)"),
])
def test_configs_and_agents_refuse_bad_values(make, options, message):
    with pytest.raises(ValueError) as raised:
        make(**options)
    assert message in str(raised.value)


def test_evaluate_config_shares_the_checks_of_the_run_config():
    with pytest.raises(ValueError, match=re.escape("seed must be an integer in [0, inf), got -1 (int)")):
        EvaluateConfig(agent="popularity", seed=-1)
    with pytest.raises(ValueError, match=re.escape("time_limit must be a float in (0, inf), got inf (float)")):
        EvaluateConfig(agent="popularity", time_limit=float("inf"))
    config = EvaluateConfig(agent="popularity", env="small", episodes=2, seed=np.int64(3), out=Path("x"))
    protocol = config.protocol()
    assert (protocol.agent, protocol.env, protocol.episodes, protocol.seed, protocol.out) == (
        "popularity", "small", 2, 3, Path("x"))
    assert type(protocol.seed) is int and (protocol.split, protocol.batch_size) == ("test", None)


def test_the_oracle_needs_a_positive_depth_and_a_world(tiny_world):
    with pytest.raises(ValueError, match=re.escape("depth must be an integer in [1, inf), got 0 (int)")):
        OracleAgent(tiny_world, depth=0)
    with pytest.raises(TypeError, match="world must be a World, got 'default' \\(str\\)"):
        OracleAgent("default")
