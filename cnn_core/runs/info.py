"""What the Runs page lists of one run folder, and who may see or change it (the ownership check
itself is `access.classroom.can_control` and `can_view`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cnn_core.access import classroom

FINAL = ("completed", "stopped", "failed", "interrupted", "paused")


@dataclass
class RunInfo:
    """What the Runs page lists of one run folder."""

    run_id: str
    path: Path
    status: str
    message: str = ""
    created: str = ""
    name: str = ""
    note: str = ""
    dataset: str = ""
    architecture: str = ""
    params: int | None = None
    epochs: int | None = None
    epochs_done: int = 0
    best_val_accuracy: float | None = None
    test_accuracy: float | None = None
    test_loss: float | None = None
    duration: float | None = None
    has_model: bool = False
    owner: str = ""  # the owner tag of the session that started it; "cli" from the command line
    parent: str = ""  # the run a fine-tuning run started from
    checkpoints: int = 0
    checkpoint_bytes: int = 0
    published: bool = False  # shown to the whole class (classroom mode)

    @property
    def resumable(self) -> bool:
        """Paused or interrupted, with a checkpoint to continue from."""
        return self.status in ("paused", "interrupted") and self.checkpoints > 0

    def controlled_by(self, owner: str) -> bool:
        """True when the browser session `owner` may change or delete this run: it started it, or it
        is the teacher in classroom mode."""
        return classroom.can_control(self.owner, owner)

    def visible_to(self, owner: str) -> bool:
        """True when the browser session `owner` may see and download this run (see `classroom.can_view`)."""
        return classroom.can_view(self.owner, self.published, owner)
