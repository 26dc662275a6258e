"""Files without a name until they are whole (Linux ``O_TMPFILE``).

``fetch --save`` writes a body to a file that has no name in any directory,
and names it only once all of it is in::

    fd = create_unnamed(folder)  # None: this system or file system cannot
    ...                          # write the body to fd
    give_name(fd, path, spare)   # now the file is at path (spare() names a spare link)

A file left unnamed disappears when its descriptor is closed, so a download
that fails, is abandoned, or whose process is killed leaves nothing behind.
Creating it does not take the directory's lock as creating a named file
does, and naming it is one link instead of a create and a rename: eight
workers saving into one directory wait less for each other.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

#: The flag, where the system has it (Linux 3.11 and later).
_O_TMPFILE = getattr(os, "O_TMPFILE", 0)

#: Where a process's descriptors show as links that ``linkat`` can follow.
_DESCRIPTORS = "/proc/self/fd"


def create_unnamed(folder: str) -> int | None:
    """A new unnamed file in ``folder``, open for writing; None where that cannot be done.

    (Not on this system, or not on this file system.)  Whether it can be
    named later, through ``/proc``, is for the caller to find out once:
    ``Saver.prepare()`` names a probe.
    """
    if not _O_TMPFILE:
        return None
    try:
        return os.open(folder, os.O_WRONLY | _O_TMPFILE, 0o666)
    except OSError:  # EOPNOTSUPP: a file system without it; EISDIR: an older kernel
        return None


def give_name(fd: int, path: str, temporary: Callable[[], str]) -> None:
    """Give the unnamed file open at ``fd`` the name ``path``, replacing any file there.

    Over an existing file, it is linked under the name ``temporary()`` gives
    (in the same folder) and renamed over it, so ``path`` is always either
    the old file or the new one.
    """
    descriptors = os.open(_DESCRIPTORS, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            _link(descriptors, fd, path)
            return
        except FileExistsError:
            pass
        spare = temporary()
        _link(descriptors, fd, spare)
    finally:
        os.close(descriptors)
    try:
        os.replace(spare, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spare)
        raise


def _link(descriptors: int, fd: int, path: str) -> None:
    # Through /proc/self/fd/N, followed: linking the descriptor itself
    # (AT_EMPTY_PATH) needs a privilege.  A directory descriptor as the source
    # makes Python call linkat(), which follows; link() would not.
    os.link(str(fd), path, src_dir_fd=descriptors, follow_symlinks=True)
