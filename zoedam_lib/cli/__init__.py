"""``python -m zoedam_lib <command>`` (also installed as ``zoedam``): the jobs that are not notebooks.

Commands: ``synth`` (render SynthRooms), ``download-nyu``, ``train`` (also under ``torchrun``),
``pretrain`` (SynthDA), ``eval``, ``predict``, ``export`` (ONNX), ``bench`` and ``app``. Errors a user
can fix are printed as one clear message with exit code 2; an interrupted training run exits with 130
after saving its checkpoint.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Sequence

from zoedam_lib.cli.commands import COMMANDS
from zoedam_lib.cli.parser import build_parser
from zoedam_lib.utils.errors import TrainingInterrupted, ZoeDAMError

__all__ = ["build_parser", "main"]

# Errors of a write the system refused (full disk, quota, file size limit, read-only, a name in the way):
# the user fixes the folder, not the code, so they get one line naming the file instead of a traceback.
WRITE_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.ENOTDIR,
                errno.EISDIR, errno.EEXIST, errno.ENOTEMPTY, errno.ENAMETOOLONG}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except TrainingInterrupted as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 130
    except ZoeDAMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a write refused late (disk full, a folder turned read-only): no traceback
        if exc.errno not in WRITE_ERRNOS:
            raise
        where = exc.filename or "an output file (the system named none)"
        fix = ("Raise the file size limit (ulimit -f) or choose an output folder on a file system that allows "
               "larger files" if exc.errno == errno.EFBIG else "Free space or choose a writable output folder")
        print(f"error: cannot write {where}: {exc.strerror}. {fix}; a training run can continue with --resume "
              "from its last checkpoint.", file=sys.stderr)
        return 2


