"""Session state in one place: every key, typed getters and setters, the owner id, the cached dataset.

Pages name their widget keys through `key(page, name)` (every page key is listed in `PAGE_KEYS`)
and their declared settings through `setting_key`. No other module spells a session key.
"""

from __future__ import annotations

import json
import re
import uuid

import streamlit as st

from cnn_core.access import classroom
from cnn_core.data import budget
from cnn_core.data.datasets import Dataset, load_dataset
from cnn_core.data.loads import SharedLoads
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.settings.fields import declared
from ui.memo import Memo

DATA_CONFIG, ARCH, TRAIN_CONFIG = "data_config", "arch_choice", "train_config"
CURRENT_RUN = "current_run"  # the run the model pages show
SESSION_JOB = "train_job"  # the run this session started last
OWNER = "owner"
LINK_READ, LINK_NOTICES = "shared_link_read", "shared_link_notices"
FINE_TUNE = "fine_tune_parent"  # the run the next training starts from, when fine-tuning
OWNER_COOKIE = "cnn_studio_owner"
_OWNER_FORMAT = re.compile(r"[0-9a-f]{32}")

PAGE_KEYS = {
    "app": {"dismiss"},
    "diagnosis": {"apply"},
    "data": {"dataset_id", "upload", "folder", "own_source", "upload_folder", "place",
             "version_shown", "use_version", "undo_pick", "undo", "versions_flash"},
    "model": {"preset", "start", "rows", "editor", "import", "imported"},
    "train": {"form", "stop", "pause", "resume", "more", "continue", "freeze", "cancel", "preview", "finder", "find",
              "finder_chart", "use_rate", "ghosts", "variant", "recommended"},
    "evaluate": {"normalise", "true", "pred", "filter", "hard_split", "hard_class", "hard_csv", "map_method", "map", "open", "cm", "cm_applied",
                 "robust_curve", "robust_go", "robust_chart", "label_folds", "label_epochs", "label_go", "label_cancel",
                 "label_mark", "label_marks", "label_save", "label_saved", "label_train", "label_variant", "label_forget",
                 "label_csv"},
    "visualize": {"source", "class", "index", "mistake", "upload"},
    "predict": {"source", "brush", "canvas", "upload", "camera", "closer", "csv"},
    "runs": {"publish", "linked", "table", "import", "imported", "confirm", "delete", "yes", "no", "edit", "resume", "more", "continue", "finetune", "variant",
             "script", "report", "report_file", "deploy", "deployed", "download"},
    "learn": {"source", "size", "pick", "image", "kernel", "k", "padding", "stride", "step", "input", "products",
              "partial", "pool", "fmap", "pooled", "flat", "ck", "cin", "cf", "din", "du"},
    "inspect": {"layer", "kernel", "explain", "camlayer", "run", "epoch", "compare", "robust", "maxim"},
    "classroom": {"form", "code", "name", "message", "rename"},
    "teacher": {"limits", "limit", "reset", "stop", "pause", "pick", "published"},
    "sweeps": {"settings", "param", "search", "prune", "trials", "time", "epochs", "start", "pick", "pause", "stop", "resume",
               "table", "curves", "coords", "importance", "current", "more", "longer", "use", "download"},
}  # fmt: skip
SETTINGS_PAGES = {"data": (DataConfig,), "train": (TrainConfig, DataConfig), "model": (TrainConfig,)}


def key(page: str, name: str, *suffix) -> str:
    """The session key of one of a page's widgets or values, e.g. key("predict", "source")."""
    if name not in PAGE_KEYS.get(page, ()):
        raise KeyError(f"no session key {name!r} on page {page!r}: add it to ui/state.PAGE_KEYS")
    return ".".join([page, name, *map(str, suffix)])


def setting_key(page: str, field: str) -> str:
    """The session key of a declared setting's widget on a page."""
    if not any(field == d.name for cls in SETTINGS_PAGES[page] for d in declared(cls)):
        raise KeyError(f"{field!r} is not a declared setting of page {page!r}")
    return f"{page}.{field}"


def get(name: str, default=None):
    """A page value by its full key (from `key`)."""
    return st.session_state.get(name, default)


def put(name: str, value) -> None:
    st.session_state[name] = value


def drop(name: str) -> None:
    st.session_state.pop(name, None)


def has(name: str) -> bool:
    return name in st.session_state


def seed_widget(name: str, value) -> None:
    """Give a widget its stored value when it is (re)created, e.g. after visiting another page."""
    if name not in st.session_state:
        st.session_state[name] = value


def forget_widgets(*pages: str) -> None:
    """Drop every widget value of these pages, so they are drawn again from the configs."""
    for name in [k for k in st.session_state if str(k).split(".")[0] in pages]:
        del st.session_state[name]


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


def current_run() -> str | None:
    """The run the Evaluate, Visualize and Predict pages show."""
    return st.session_state.get(CURRENT_RUN)


def set_current_run(run_id: str | None) -> None:
    if run_id is None:
        st.session_state.pop(CURRENT_RUN, None)
    else:
        st.session_state[CURRENT_RUN] = run_id


def session_job_id() -> str | None:
    """The run id of the job this session started last (None before its first)."""
    return st.session_state.get(SESSION_JOB)


def set_session_job_id(run_id: str) -> None:
    st.session_state[SESSION_JOB] = run_id


def fine_tune_parent() -> str | None:
    """The run whose weights the next training starts from (None: from scratch)."""
    return st.session_state.get(FINE_TUNE)


def set_fine_tune_parent(run_id: str | None) -> None:
    if run_id is None:
        st.session_state.pop(FINE_TUNE, None)
    else:
        st.session_state[FINE_TUNE] = run_id


def owner_id() -> str:
    """This browser's owner id: the secret that lets a session control its own jobs.

    It lives in a cookie (see `owner_cookie_script`), so a reloaded tab keeps control, while
    another browser that opens the same address gets an id of its own.
    """
    if OWNER not in st.session_state:
        cookie = _owner_cookie()
        st.session_state[OWNER] = cookie if _OWNER_FORMAT.fullmatch(cookie) else uuid.uuid4().hex
    return st.session_state[OWNER]


def _owner_cookie() -> str:
    value = st.context.cookies.get(OWNER_COOKIE, "")
    return value if isinstance(value, str) else ""  # AppTest has no real browser context


def owner_cookie_script() -> str | None:
    """JavaScript that stores the owner id in this browser, or None when the cookie already holds it."""
    owner = owner_id()
    if _owner_cookie() == owner:
        return None
    return f"<script>document.cookie = '{OWNER_COOKIE}={owner}; path=/; max-age=31536000; SameSite=Strict';</script>"


def link_read() -> bool:
    """True once this session has applied the link it was opened with."""
    done = st.session_state.get(LINK_READ, False)
    st.session_state[LINK_READ] = True
    return done


def link_notices() -> list[str]:
    return st.session_state.get(LINK_NOTICES, [])


def set_link_notices(notices: list[str]) -> None:
    st.session_state[LINK_NOTICES] = list(notices)


def _dataset_bytes(ds: Dataset) -> int:
    return sum(getattr(s.images, "nbytes", 0) for s in ds.splits.values())


_DATASETS = Memo(4, weigh=_dataset_bytes, capacity=budget.memory_budget_bytes)  # kept datasets stay within the budget
_LOADS = SharedLoads()


def current_dataset(config: DataConfig | None = None, progress=None) -> Dataset:
    """The dataset for `config` (default: the current selection), loaded once per process; `progress`
    (a `cnn_core.progress` report) hears how far reading a folder has got.

    Sessions asking for the same config share one load. While this session waits, its page is
    touched every tick: a closed or rerun page raises Streamlit's stop there, this session stops
    waiting, and the load is cancelled when no session waits any more.
    """
    config = config or data_config()
    classroom.check_dataset_id(config.dataset_id, owner_id())  # a link or a run may name another learner's upload
    key = json.dumps(config.to_dict(), sort_keys=True)
    return _DATASETS.get(key, lambda: _LOADS.get(key, lambda report: load_dataset(config, report), _waiting(progress)))


def _waiting(progress):
    """Called in the script thread while a load runs: show its progress, or touch an empty placeholder
    (either one is a Streamlit yield point, where a stopped session's script gets StopException)."""
    spot = None

    def tick(latest) -> None:
        nonlocal spot
        if progress is not None and latest is not None:
            progress(latest)
            return
        spot = spot or st.empty()
        spot.empty()

    return tick
