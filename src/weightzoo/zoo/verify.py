"""``verify_zoo``: check every file of a zoo against its checksum and the manifest."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from weightzoo.errors import ZooFormatError
from weightzoo.zoo._io import RemotePath, as_zoo_path
from weightzoo.zoo.catalog import (
    list_epoch_files,
    load_manifest,
    read_catalog,
    rebuild_catalog,
    write_catalog,
)
from weightzoo.zoo.shardfiles import load_checked


@dataclass
class VerifyReport:
    files_checked: int = 0
    problems: list[str] = field(default_factory=list)
    missing_epochs: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.missing_epochs


def verify_zoo(
    path: str | Path | RemotePath, *, rebuild: bool = False, progress=None
) -> VerifyReport:  # noqa: ANN001
    """Recompute every checkpoint's checksum and compare the catalog with the shards.

    Args:
        path: zoo folder or fsspec URL.
        rebuild: rewrite ``catalog.parquet`` from the shards when it differs or is missing.
        progress: optional callable ``(done, total)`` for a progress bar.

    Returns:
        A report; ``report.ok`` is true when nothing is wrong.
    """
    root = as_zoo_path(path)
    manifest = load_manifest(root)
    report = VerifyReport()
    planned = manifest.get("checkpoint_epochs", [])
    files = [
        (s, e, p) for s in manifest.get("shards", {}) for e, p in list_epoch_files(root, s).items()
    ]
    for i, (_shard, _epoch, p) in enumerate(files):
        try:
            load_checked(p)
        except ZooFormatError as e:
            report.problems.append(str(e))
        report.files_checked += 1
        if progress:
            progress(i + 1, len(files))
    for shard in manifest.get("shards", {}):
        have = set(list_epoch_files(root, shard))
        missing = [e for e in planned if e not in have]
        if missing:
            report.missing_epochs[shard] = missing
    if report.problems:
        return report
    fresh = rebuild_catalog(root, manifest)
    stored = read_catalog(root)
    if stored is None or not stored.reset_index(drop=True).equals(fresh):
        if rebuild:
            write_catalog(root, fresh)
        else:
            report.problems.append(
                f"{root}/catalog.parquet is missing or disagrees with the shards (run with --rebuild)"
            )
    return report
