"""Dataset versions: a dataset plus a list of label edits, named by the edits' content hash.

A version's id is `<base id>@v-<8 hex>`, e.g. `folder:/data/pets@v-3fa2c01b` or `mnist-5k@v-0a1b2c3d`;
the hex is the start of the sha256 of its canonical JSON, so the same edits always give the same id.
The edit list is kept as JSON in `<data>/versions/<hex>.json`; the original files are never changed.
An edit names one image by its key (its path under the dataset root for folders and zips, its
index in the loader's source order otherwise) and says `relabel` (with `to`, a class name),
`exclude` or `keep` (reviewed, no change). Loading applies the edits within each split
(`recipe.apply_edits`, which the exported script copies).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from pathlib import PurePosixPath

import numpy as np

from cnn_core import paths, recipe
from cnn_core.errors import StudioError
from cnn_core.runs.atomic import atomic_write

MARK = "@v-"
ACTIONS = ("relabel", "exclude", "keep")
MAX_EDITS = 50_000
MAX_FILE_BYTES = 2 * 2**20
MAX_KEY_CHARS = 1000
MAX_CLASS_CHARS = 200
MAX_LISTED = 500  # version files read when listing a dataset's versions
_HEX = re.compile(r"^[0-9a-f]{8}$")


def split_id(dataset_id: str) -> tuple[str, str | None]:
    """(base id, version hex) of a dataset id; the hex is None for a dataset that is no version.

    Raises:
        StudioError: for a version mark not followed by exactly 8 hex digits (`mnist-5k@v-../../x`).
    """
    base, mark, tail = str(dataset_id).rpartition(MARK)
    if not mark:
        return str(dataset_id), None
    if not _HEX.match(tail) or not base or MARK in base:
        raise StudioError(f"{dataset_id!r} is not a dataset version: a version id is <dataset id>@v-<8 hex digits>")
    return base, tail


def version_file(hexdigest: str):
    """Where a version's edits are kept (the hex is checked, so the path stays in the versions folder)."""
    if not _HEX.match(hexdigest or ""):
        raise StudioError(f"{hexdigest!r} is not a version hash (8 hex digits)")
    return paths.data_dir() / "versions" / f"{hexdigest}.json"


def digest(base_id: str, edits: list[dict]) -> str:
    """The 8 hex digits naming `edits` on `base_id`: sha256 of their canonical JSON."""
    canonical = json.dumps({"base": base_id, "edits": sorted_edits(edits)}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:8]


def sorted_edits(edits: list[dict]) -> list[dict]:
    """Edits in their canonical order: index keys by number, file keys by name."""
    return sorted(edits, key=lambda e: (isinstance(e["key"], str), e["key"]))


def clean_edit(raw: object) -> dict:
    """One edit checked and reduced to its fields, or a `StudioError` saying what is wrong."""
    if not isinstance(raw, dict):
        raise StudioError(f"an edit must be an object with key and action, not {type(raw).__name__}")
    key, action = raw.get("key"), raw.get("action")
    if action not in ACTIONS:
        raise StudioError(f"edit action {action!r} is not one of {', '.join(ACTIONS)}")
    edit = {"key": clean_key(key), "action": action}
    if action == "relabel":
        to = raw.get("to")
        if not isinstance(to, str) or not to.strip() or len(to) > MAX_CLASS_CHARS:
            raise StudioError(f"relabel of {key!r} needs a class name to relabel to, not {to!r}")
        edit["to"] = to
    return edit


def clean_key(key: object) -> int | str:
    """An image key: a non-negative index, or a relative path that stays under the dataset root."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool) and key >= 0:
        return int(key)
    if isinstance(key, str) and 0 < len(key) <= MAX_KEY_CHARS and key.isprintable():
        parts = PurePosixPath(key.replace("\\", "/")).parts
        if parts and not key.startswith(("/", "\\")) and ".." not in parts and ":" not in parts[0]:
            return key
    raise StudioError(f"{key!r} names no image: give a file path under the dataset's folder or an image index")


def parse_key(dataset_id: str, text: str) -> int | str:
    """A key typed on the command line: an index for registry datasets, a file path for folders and zips."""
    kind = split_id(dataset_id)[0].partition(":")[0]
    if kind in ("folder", "zip"):
        return clean_key(text)
    try:
        return clean_key(int(text))
    except ValueError:
        raise StudioError(f"{dataset_id} names its images by index (0, 1, 2, …), not {text!r}") from None


def edits_of(dataset_id: str) -> list[dict]:
    """The edits of a version (in canonical order); [] for a dataset that is no version.

    Raises:
        StudioError: naming the file when the version is missing, too large, damaged, or of another dataset.
    """
    base, hexdigest = split_id(dataset_id)
    if hexdigest is None:
        return []
    stored = _read(version_file(hexdigest))
    if stored["base"] != base:
        raise StudioError(f"version v-{hexdigest} is a version of {stored['base']}, not of {base}")
    return stored["edits"]


def _read(path) -> dict:
    """A version file checked whole: its size, its JSON, every edit, and that its name is its hash."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise StudioError(f"version file {path} holds {size:,} bytes; the limit is {MAX_FILE_BYTES:,}")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StudioError(f"no dataset version {path.stem} on this machine (no file {path})") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StudioError(f"version file {path} is damaged ({exc.__class__.__name__}): it cannot be read") from None
    edits = data.get("edits") if isinstance(data, dict) else None
    if not isinstance(edits, list) or not isinstance(data.get("base"), str) or len(edits) > MAX_EDITS:
        raise StudioError(f"version file {path} is damaged: it needs a base id and at most {MAX_EDITS:,} edits")
    try:
        edits = sorted_edits([clean_edit(e) for e in edits])
    except StudioError as exc:
        raise StudioError(f"version file {path} is damaged: {exc}") from None
    if digest(data["base"], edits) != path.stem:
        raise StudioError(f"version file {path} is damaged: its edits do not match its name")
    return {"base": data["base"], "edits": edits, "created": float(data.get("created") or 0)}


def derive(dataset_id: str, edits: list[dict], dataset=None) -> str:
    """The id of `dataset_id`'s edits plus `edits` (a later mark on a key replaces the earlier one).

    Args:
        dataset_id: a dataset or a version of one.
        edits: the marks to add, each {"key", "action", "to" (relabel only)}.
        dataset: the loaded dataset (or version), if at hand: keys must be among its images and
            relabels among its classes.

    Returns:
        The new version's id (written to disk), or the base id when no edits remain.
    """
    base, _ = split_id(dataset_id)
    merged = {e["key"]: e for e in edits_of(dataset_id)}
    known = set(merged)
    for raw in edits:
        edit = clean_edit(raw)
        if dataset is not None:
            _check_against(edit, dataset, known)
        merged[edit["key"]] = edit
    return _save(base, list(merged.values()))


def _check_against(edit: dict, dataset, known: set) -> None:
    if edit["action"] == "relabel" and edit["to"] not in dataset.class_names:
        raise StudioError(f"cannot relabel {edit['key']!r} to {edit['to']!r}: the classes are {', '.join(dataset.class_names)}")
    if edit["key"] in known:
        return
    if not any(edit["key"] in _key_set(split) for split in dataset.splits.values()):
        raise StudioError(f"{edit['key']!r} is not an image of {dataset.spec.id} as loaded ({len_of(dataset):,} images)")


def _key_set(split) -> set:
    if getattr(split, "_key_set", None) is None:
        split._key_set = set(split.keys.tolist()) if split.keys is not None else set()
    return split._key_set


def len_of(dataset) -> int:
    return sum(len(s) for s in dataset.splits.values())


def undo(dataset_id: str, key: int | str) -> str:
    """The id of `dataset_id` without its edit of `key` (the base id when none is left)."""
    base, _ = split_id(dataset_id)
    edits = edits_of(dataset_id)
    kept = [e for e in edits if str(e["key"]) != str(key)]
    if len(kept) == len(edits):
        raise StudioError(f"{dataset_id} has no edit of {key!r} to undo")
    return _save(base, kept)


def _save(base: str, edits: list[dict]) -> str:
    if not edits:
        return base
    if len(edits) > MAX_EDITS:
        raise StudioError(f"a version holds at most {MAX_EDITS:,} edits; this one would hold {len(edits):,}")
    edits = sorted_edits(edits)
    hexdigest = digest(base, edits)
    path = version_file(hexdigest)
    text = json.dumps({"base": base, "edits": edits, "created": time.time()}, ensure_ascii=False)
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise StudioError(f"these edits take more than {MAX_FILE_BYTES:,} bytes; make fewer edits per version")
    if path.exists():
        stored = _read(path)  # the same edits, saved before: keep its date
        if stored["base"] != base or stored["edits"] != edits:
            raise StudioError(f"version v-{hexdigest} already names other edits (a hash collision): change an edit")
        return f"{base}{MARK}{hexdigest}"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text)
    return f"{base}{MARK}{hexdigest}"


def versions_of(base_id: str) -> list[dict]:
    """The versions of `base_id` on disk, newest first: {"id", "edits", "created", "actions"} each.

    Damaged files are left out (loading one names its damage).
    """
    base, _ = split_id(base_id)
    folder = paths.data_dir() / "versions"
    files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)[:MAX_LISTED] if folder.is_dir() else []
    found = []
    for path in files:
        if not _HEX.match(path.stem):
            continue
        try:
            stored = _read(path)
        except StudioError:
            continue
        if stored["base"] == base:
            actions = {a: sum(e["action"] == a for e in stored["edits"]) for a in ACTIONS}
            found.append({"id": f"{base}{MARK}{path.stem}", **stored, "actions": actions})
    return sorted(found, key=lambda v: v["created"], reverse=True)


def apply(dataset, dataset_id: str, edits: list[dict]):
    """A loaded base dataset with a version's edits applied within each split (a new `Dataset`).

    The original labels of every split are kept (`original`), so any version's counts can be
    worked out without loading it (`counts_with`).
    """
    original = {name: (s.keys, s.labels) for name, s in dataset.splits.items()}
    splits, edited = {}, {}
    for name, split in dataset.splits.items():
        keep, labels, edited[name] = _apply_split(split, edits, dataset.class_names, dataset_id)
        taken = split if len(keep) == len(split) else _take(split, keep)
        splits[name] = dataclasses.replace(taken, labels=labels)
    _, hexdigest = split_id(dataset_id)
    spec = dataclasses.replace(dataset.spec, id=dataset_id, name=f"{dataset.spec.name} (version v-{hexdigest})")
    config = dataclasses.replace(dataset.config, dataset_id=dataset_id)
    return dataclasses.replace(dataset, spec=spec, config=config, **splits, edited=edited, edits=edits, original=original)


def _apply_split(split, edits, class_names, dataset_id):
    try:
        return recipe.apply_edits(split.keys, split.labels, edits, class_names)
    except ValueError as exc:
        raise StudioError(f"{dataset_id}: {exc}") from None


def _take(split, keep: np.ndarray):
    files = split.files[keep] if split.files is not None else None
    return dataclasses.replace(split, images=split.images.take(keep, axis=0), files=files, keys=split.keys[keep])


def counts_with(dataset, edits: list[dict]) -> dict[str, list[int]]:
    """Images per class in each split of `dataset`'s base with `edits` applied (no images are read)."""
    return {name: counts for name, (counts, _) in effect(dataset, edits).items()}


def effect(dataset, edits: list[dict]) -> dict[str, tuple[list[int], int]]:
    """Per split of `dataset`'s base: (images per class, images changed) with `edits` applied."""
    found = {}
    for name, (keys, labels) in dataset.original_labels().items():
        try:
            _, new, changed = recipe.apply_edits(keys, labels, edits, dataset.class_names)
        except ValueError as exc:
            raise StudioError(str(exc)) from None
        found[name] = (np.bincount(new, minlength=dataset.num_classes).tolist(), changed)
    return found
