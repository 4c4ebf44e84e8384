"""Putting a new index in place so that a reader, a crash or a full disk never sees half of one.

A build writes into a sibling temporary directory (``.<name>.building-<pid>-*``), fsyncs it,
then swaps it with the old index in one step: ``renameat2(RENAME_EXCHANGE)`` on Linux, so
there is no moment with no index at the path. Where the kernel or file system cannot exchange,
two renames are used, and a crash between them leaves the old index at ``.<name>.old-*``,
which the next build (or ``recover``) moves back.

Temporary directories of builds whose process is gone (killed, or out of disk) are removed by
the next build; those of a build still running are left alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

AT_FDCWD = -100
RENAME_EXCHANGE = 2


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where that is not available."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    result = renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(leftover: Path) -> int | None:
    """The pid in ``.<name>.building-<pid>-<random>``, if the name has one."""
    part = leftover.name.rsplit(".building-", 1)[-1].split("-", 1)[0]
    return int(part) if part.isdigit() else None


@contextlib.contextmanager
def swap_lock(index_dir: Path) -> Iterator[None]:
    """Held around a swap and around ``recover``, so that a reader recovering an index never
    steps between a builder's two renames: a lock on the parent directory itself (no lock
    file is left behind), released by the kernel if the holder dies."""
    fd = os.open(index_dir.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def recover(index_dir: Path) -> list[Path]:
    """Clean up after builds that died: move back an old index left between two renames when
    nothing is at ``index_dir``, and remove temporary directories of dead builds. Returns what
    was removed."""
    if not index_dir.parent.is_dir():
        return []
    with swap_lock(index_dir):
        return _recover(index_dir)


def _recover(index_dir: Path) -> list[Path]:
    parent, name = index_dir.parent, index_dir.name
    olds = sorted(parent.glob(f".{name}.old-*"), key=lambda p: p.stat().st_mtime)
    if olds and not index_dir.exists():
        os.rename(olds.pop(), index_dir)
    removed = []
    for leftover in [*olds, *parent.glob(f".{name}.building-*")]:
        owner = _owner(leftover)
        if ".building-" in leftover.name and (owner is None or owner == os.getpid() or _alive(owner)):
            continue
        if leftover.is_symlink():
            leftover.unlink()
        else:
            shutil.rmtree(leftover, ignore_errors=True)
        removed.append(leftover)
    return removed


def replace_directory(index_dir: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(tmp_dir)``, then put ``tmp_dir`` in place as ``index_dir`` in one step.
    On any failure (a full disk included) the temporary directory is removed and whatever was
    at ``index_dir`` stays as it was."""
    if index_dir.is_symlink():  # replace what the link points to; the link stays
        index_dir = Path(os.path.realpath(index_dir))
    parent = index_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    recover(index_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{index_dir.name}.building-{os.getpid()}-", dir=parent))
    try:
        write(tmp)
        fsync_dir(tmp)
        with swap_lock(index_dir):
            _swap(tmp, index_dir)
        fsync_dir(parent)
    except BaseException:
        with contextlib.suppress(OSError):
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap(tmp: Path, index_dir: Path) -> None:
    if not index_dir.exists():
        os.rename(tmp, index_dir)
    elif exchange(tmp, index_dir):
        shutil.rmtree(tmp, ignore_errors=True)  # now the old index
    else:
        old = index_dir.parent / f".{index_dir.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(index_dir, old)
        try:
            os.rename(tmp, index_dir)
        except BaseException:
            os.rename(old, index_dir)  # put the old index back before reporting the failure
            raise
        shutil.rmtree(old, ignore_errors=True)
