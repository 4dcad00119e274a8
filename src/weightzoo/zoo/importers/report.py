"""What an import brought in and what it skipped, item by item, with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from weightzoo.errors import ZooFormatError

if TYPE_CHECKING:
    from weightzoo.zoo.zoo import Zoo


@dataclass(frozen=True)
class SkippedItem:
    """One thing an import left out.

    Attributes:
        item: what was skipped: a trial folder, a checkpoint file, a result.json
            line, a weights.npy row (a path or a readable locator).
        reason: why, in words a user can act on.
        kind: ``"model"`` (the whole model is missing from the zoo),
            ``"checkpoint"`` (one epoch of a model), or ``"metrics"`` (a metrics
            record; the weights were still imported).
    """

    item: str
    reason: str
    kind: str = "model"


@dataclass
class ImportReport:
    """Summary of one import.

    Attributes:
        source: the source path.
        format: ``"modelzoos"`` or ``"cnn-zoo"``.
        zoo: the written zoo (``None`` until written).
        models: models imported.
        checkpoints: (model, epoch) checkpoints imported.
        skipped: every item left out, with its reason.
    """

    source: str
    format: str
    zoo: Zoo | None = None
    models: int = 0
    checkpoints: int = 0
    skipped: list[SkippedItem] = field(default_factory=list)

    def skip(self, item: str, reason: str, kind: str = "model") -> None:
        """Record one skipped item."""
        self.skipped.append(SkippedItem(str(item), reason, kind))


class NothingImportedError(ZooFormatError):
    """No model of the source could be imported; ``.report`` lists why."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        reasons = "; ".join(f"{s.item}: {s.reason}" for s in report.skipped[:3])
        more = f" (and {len(report.skipped) - 3} more)" if len(report.skipped) > 3 else ""
        super().__init__(
            f"nothing could be imported from {report.source} as {report.format}: "
            f"{reasons or 'no models found'}{more}"
        )


__all__ = ["ImportReport", "NothingImportedError", "SkippedItem"]
