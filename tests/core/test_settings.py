"""The settings declaration: every field has a flag with help, a URL key and a valid default, and
values are read and checked the same way everywhere."""

import pytest

from cnn_core.cli import build_parser
from cnn_core.errors import StudioError
from cnn_core.settings import fields
from cnn_core.settings.config import DataConfig, TrainConfig

ALL = [(cls, d) for cls in (DataConfig, TrainConfig) for d in fields.declared(cls)]


def subparser(name):
    parser = build_parser()
    return next(a for a in parser._subparsers._group_actions if a.choices).choices[name]


@pytest.mark.parametrize(("cls", "d"), ALL, ids=[d.name for _, d in ALL])
def test_every_setting_is_fully_declared(cls, d):
    s = d.setting
    assert s.label and s.help.endswith(".") and len(s.help.split()) >= 8, "help is one sentence for a learner"
    assert fields.problem(s, d.default) is None, "the default is valid"
    if s.kind in ("int", "float"):
        assert s.minimum is not None and s.maximum is not None
    keys = [x.key for _, x in ALL]
    assert keys.count(d.key) == 1, "URL keys are unique"


@pytest.mark.parametrize(("cls", "d"), ALL, ids=[d.name for _, d in ALL])
def test_every_setting_has_a_training_flag_with_its_help(cls, d):
    actions = {a.option_strings[0]: a for a in subparser("train")._actions if a.option_strings}
    flag = "--dataset" if d.name == "dataset_id" else d.flag
    assert flag in actions, f"train has no {flag}"
    if d.name != "dataset_id":
        assert d.setting.help in actions[flag].help


def test_train_flags_parse_like_links_and_refuse_out_of_range_values(capsys):
    parser = build_parser()
    args = parser.parse_args(["train", "--rotation", "15", "--epochs", "3", "--split-seed", "4", "--seed", "9", "--no-flip"])
    from cnn_core.cli.common import data_config
    from cnn_core.settings.config import TrainConfig

    train, data = fields.from_arguments(TrainConfig, args), data_config(args, "shapes")
    assert (train.rotation, train.epochs, train.seed, train.flip, data.seed) == (15.0, 3, 9, False, 4)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["train", "--rotation", "5400"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rotation must be from 0 to 180 degrees" in err


def test_help_lists_range_unit_and_default():
    text = subparser("train").format_help()
    assert "Allowed: from 0 to 180 degrees. Default: 0." in " ".join(text.split())


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [("int", "12", 12), ("int", "1e3", 1000), ("float", "0.25", 0.25), ("bool", "true", True), ("bool", "0", False)],
)
def test_parse(kind, text, value):
    s = fields.Setting("x", "h", kind, minimum=0, maximum=10_000)
    assert fields.parse(s, text) == value


def test_check_names_every_bad_field():
    with pytest.raises(StudioError) as err:
        TrainConfig(epochs=0, rotation=400.0, optimizer="nope").check()
    text = str(err.value)
    assert "epochs must be from 1 to 1000" in text and "rotation must be from 0 to 180" in text and "optimizer" in text


def test_booleans_are_not_numbers():
    assert fields.problem(fields.Setting("n", "h", "int", minimum=0, maximum=5), True) == "must be a whole number"
