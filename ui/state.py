"""Session state in one place: the keys, typed getters and setters, and the cached dataset."""

from __future__ import annotations

import json

import streamlit as st

from cnn_core.config import ArchChoice, TrainConfig
from cnn_core.datasets import DataConfig, Dataset, load_dataset

DATA_CONFIG = "data_config"
ARCH = "arch_choice"
TRAIN_CONFIG = "train_config"


def data_config() -> DataConfig:
    """The current dataset selection (the bundled default until the user picks another)."""
    if DATA_CONFIG not in st.session_state:
        st.session_state[DATA_CONFIG] = DataConfig().to_dict()
    return DataConfig.from_dict(st.session_state[DATA_CONFIG])


def set_data_config(config: DataConfig) -> None:
    st.session_state[DATA_CONFIG] = config.to_dict()


def arch_choice() -> ArchChoice:
    return ArchChoice.from_dict(st.session_state.get(ARCH, {}))


def set_arch_choice(choice: ArchChoice) -> None:
    st.session_state[ARCH] = choice.to_dict()


def train_config() -> TrainConfig:
    return TrainConfig.from_dict(st.session_state.get(TRAIN_CONFIG, {}))


def update_train_config(**changes) -> TrainConfig:
    config = TrainConfig.from_dict(train_config().to_dict() | changes)
    st.session_state[TRAIN_CONFIG] = config.to_dict()
    return config


def seed_widget(key: str, value) -> None:
    """Give a widget its stored value when it is (re)created, e.g. after visiting another page."""
    if key not in st.session_state:
        st.session_state[key] = value


@st.cache_resource(max_entries=4, show_spinner=False)
def _load(config_json: str) -> Dataset:
    return load_dataset(DataConfig.from_dict(json.loads(config_json)))


def current_dataset(config: DataConfig | None = None) -> Dataset:
    """The dataset for `config` (default: the current selection), loaded once per process."""
    config = config or data_config()
    return _load(json.dumps(config.to_dict(), sort_keys=True))
