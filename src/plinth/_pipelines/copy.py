"""The command of a DataTransferStep: ``python -m plinth._pipelines.copy SOURCE DESTINATION``
copies a file or a folder's contents into the destination folder."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    source, destination = map(Path, (sys.argv[1:] if argv is None else argv))
    destination.mkdir(parents=True, exist_ok=True)
    if source.is_file():
        shutil.copy2(source, destination / source.name)
        count = 1
    else:
        shutil.copytree(source, destination, dirs_exist_ok=True)
        count = sum(1 for p in source.rglob("*") if p.is_file())
    print(f"Copied {count} file(s) from {source} to {destination}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
