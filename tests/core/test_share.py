"""The share link: every kind of setup round-trips, and hand-edited values are dropped with a notice."""

import pytest

from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.settings.share import from_query, is_shared, to_query


def test_share_round_trip_of_every_kind_of_setup():
    cases = [
        (DataConfig(), ArchChoice(), TrainConfig()),
        (
            DataConfig("shapes", 0.2, 0.1, 7, 24, None, 500),
            ArchChoice("lenet-dropout"),
            TrainConfig(
                epochs=12, batch_size=32, dropout=0.3, optimizer="sgd", learning_rate=0.01, momentum=0.8, flip=True,
                rotation=15.0, zoom=0.1, translation=0.1, early_stopping=True, patience=2, seed=4,
            ),
        ),
        (
            DataConfig("digits", image_size=28, channels=1),
            ArchChoice.custom(
                [{"type": "Conv2D", "filters": 4, "kernel_size": 3}, {"type": "Flatten"}, {"type": "Dense", "units": 8}]
            ),
            TrainConfig(learning_rate=0.0007),
        ),
    ]  # fmt: skip
    for data, arch, train in cases:
        query = to_query(data, arch, train)
        assert all(isinstance(v, str) for v in query.values())
        setup = from_query(query)
        assert (setup.data, setup.arch, setup.train, setup.notices) == (data, arch, train, [])
    assert to_query(DataConfig(), ArchChoice(), TrainConfig()) == {"arch": "keras-mnist"}


def test_rotation_travels_in_degrees():
    query = to_query(DataConfig(), ArchChoice(), TrainConfig(rotation=15.0))
    assert query["rotation"] == "15"
    assert from_query({"rotation": "15"}).train.rotation == 15.0


MALFORMED = [
    ({"epochs": "-3"}, "epochs", "epochs must be from 1 to 1000"),
    ({"epochs": "abc"}, "epochs", "not a whole number"),
    ({"epochs": "2.5"}, "epochs", "not a whole number"),
    ({"batch": "0"}, "batch", "batch size must be from 1"),
    ({"lr": "-1"}, "lr", "learning rate must be above 0"),
    ({"lr": "nan"}, "lr", "must be a number"),
    ({"rotation": "5400"}, "rotation", "from 0 to 180 degrees"),
    ({"optimizer": "lbfgs"}, "optimizer", "must be one of adam, rmsprop, sgd"),
    ({"early": "maybe"}, "early", "not true or false"),
    ({"data": "imagenet"}, "data", "must be one of mnist-5k"),
    ({"data": "folder:/etc"}, "data", "cannot open a folder on the server"),
    ({"val": "0.9"}, "val", "validation fraction must be from 0 to 0.4"),
    ({"size": "big"}, "size", "not a whole number"),
    ({"ch": "2"}, "ch", "must be one of 1, 3; colour stays from the data"),
    ({"arch": "nope"}, "arch", "no such architecture"),
    ({"arch": "custom", "layers": "]["}, "layers", "using keras-mnist"),
    ({"arch": "custom", "layers": '[{"type": "Dense", "units": 0}]'}, "layers", "units must be a whole number"),
    ({"arch": "custom", "layers": '{"type": "Conv2D"}'}, "layers", "JSON list of layer objects"),
    ({"colour": "blue"}, "colour", "no setting called 'colour'"),
]


@pytest.mark.parametrize(("query", "key", "reason"), MALFORMED, ids=[f"{q}" for q, _, _ in MALFORMED])
def test_each_malformed_value_is_dropped_with_a_notice_naming_key_and_value(query, key, reason):
    setup = from_query({**query, "epochs": query.get("epochs", "7")})
    assert len(setup.notices) == 1, setup.notices
    notice = setup.notices[0]
    assert notice.startswith(f"{key}=") and repr(query[key])[:20] in notice and reason in notice, notice
    setup.data.check()  # what remains is a valid setup
    setup.train.check()
    setup.arch.spec()
    if key != "epochs":
        assert setup.train.epochs == 7  # the good values of the same link still apply


def test_a_link_with_many_bad_values_keeps_its_good_ones():
    query = {"data": "shapes", "epochs": "-1", "lr": "x", "rotation": "720", "batch": "32", "arch": "lenet-dropout"}
    setup = from_query(query)
    assert [n.split("=")[0] for n in setup.notices] == ["epochs", "lr", "rotation"]
    assert (setup.data.dataset_id, setup.train.batch_size, setup.arch.preset) == ("shapes", 32, "lenet-dropout")
    assert (setup.train.epochs, setup.train.learning_rate, setup.train.rotation) == (5, 0.001, 0.0)


def test_an_upload_kept_by_the_app_may_travel_in_a_link(workspace):
    upload = workspace / "data" / "uploads" / "abc" / "pets.zip"
    setup = from_query({"data": f"zip:{upload}"})
    assert setup.notices == [] and setup.data.dataset_id == f"zip:{upload}"
    assert from_query({"data": f"zip:{workspace}/data/../../x.zip"}).notices  # no escaping the data folder


def test_a_page_address_alone_is_not_a_shared_setup():
    assert not is_shared({}) and not is_shared({"run": "abc"}) and is_shared({"epochs": "3"})
