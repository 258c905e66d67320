"""AppTest of the Model page: preset tables, refusals, the custom layer editor."""

from tests.app.helpers import metric, open_page, texts


def test_default_preset_summary_on_mnist_5k():
    at = open_page("model")
    assert at.title[0].value == "Model"
    assert metric(at, "Parameters") == "93,322"
    table = at.dataframe[0].value
    assert table["parameters"].sum() == 93_322
    assert "64×576+64 = 36,928" in table["how it is computed"].tolist()


def test_choosing_lenet_and_dropout_override():
    at = open_page("model")
    at.selectbox(key="model.preset").set_value("lenet-dropout").run()
    assert metric(at, "Parameters") == "242,062"
    at.toggle(key="model.dropout.on").set_value(True).run()
    at.slider(key="model.dropout").set_value(0.4).run()
    assert at.session_state["train_config"]["dropout"] == 0.4
    at.selectbox(key="model.preset").set_value("keras-mnist").run()
    assert "Dropout (added)" in at.dataframe[0].value["type"].tolist()


def test_preset_that_does_not_fit_the_dataset_explains_why():
    at = open_page("model", session={"data_config": {"dataset_id": "digits"}})
    at.selectbox(key="model.preset").set_value("keras-mnist").run()
    assert not at.exception
    assert "does not fit" in at.error[0].value and "larger image size" in at.error[0].value


def test_custom_stack_updates_the_summary_and_flags_invalid_rows():
    at = open_page("model")
    at.selectbox(key="model.preset").set_value("custom").run()
    assert metric(at, "Parameters") == "93,322"  # starts from keras-mnist
    at.session_state["model.editor"] = {"edited_rows": {0: {"filters": 8}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert metric(at, "Parameters") != "93,322" and at.session_state["arch_choice"]["preset"] == "custom"
    at.session_state["model.editor"] = {
        "edited_rows": {0: {"filters": 8, "padding": None, "kernel_size": -3}},
        "added_rows": [{"type": "Dense", "units": 0}],
        "deleted_rows": [],
    }
    at.run()
    assert not at.exception
    message = at.error[0].value
    assert "row 1: Conv2D: kernel_size" in message and "row 8: Dense: units" in message
    assert "Custom layer stack" in texts(at.sidebar) or "custom" in texts(at.sidebar).lower()


def test_a_preset_shows_its_measured_time_to_accuracy_and_one_never_timed_shows_none():
    at = open_page("model")
    at.selectbox(key="model.preset").set_value("fashion-cnn").run()
    measured = [m.value for m in at.markdown if m.value.startswith("**Time to accuracy, measured:**")]
    assert len(measured) == 1 and "93 % test accuracy after" in measured[0] and "s with precision auto" in measured[0]
    at.selectbox(key="model.preset").set_value("lenet-dropout").run()
    assert not [m.value for m in at.markdown if "Time to accuracy" in m.value]
