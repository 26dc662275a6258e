"""Saving response bodies under a directory: safe names, whole files or none.

Used by ``requests-futures fetch --save DIR``::

    saver = Saver("downloads", layout="name")
    path = saver.reserve("https://example.com/files/report.pdf")  # downloads/report.pdf
    session.get(url, stream=True, background_callback=saver.callback(path))

A name comes from the URL alone and is made safe first: nothing is ever
written outside the directory.  A body is written to a file that gets its
name only once all of it arrived: on Linux a file with no name until then
(:mod:`.unnamed`), elsewhere a temporary file in the target's directory,
renamed into place.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from requests.exceptions import ChunkedEncodingError

from .naming import Layout, numbered, relative_path
from .splicing import splice_body
from .unnamed import create_unnamed, give_name

if TYPE_CHECKING:  # pragma: no cover
    from requests import Response

#: Bytes read and written at a time: memory use does not grow with the body,
#: and a large body takes few reads (each read of ``requests``' loop takes and
#: drops the GIL, which other workers wait for).
CHUNK = 2**20

#: Prefix and suffix of the temporary files (dot files: hidden from ``ls``).
TEMP_PREFIX, TEMP_SUFFIX = ".rf-", ".part"


@dataclass(frozen=True)
class Saved:
    """What became of one response: its status, final URL, body size, and file.

    ``path`` is None when the body was not saved (a non-2xx status without
    ``save_errors``); ``bytes`` counts the body either way.
    """

    status: int
    url: str
    bytes: int
    path: str | None


class Saver:
    """Saves response bodies under ``root``; every name it hands out is distinct.

    :param root: the directory; created if missing.
    :param layout: how names come from URLs (see :func:`.naming.relative_path`).
    :param save_errors: save the bodies of non-2xx responses too.
    :param chunk: bytes read and written at a time.
    """

    def __init__(
        self, root: str, layout: Layout = "name", *, save_errors: bool = False, chunk: int = CHUNK
    ) -> None:
        self.root = root
        self.layout = layout
        self.save_errors = save_errors
        self.chunk = chunk
        #: Bytes written so far, by every download together.
        self.written = 0
        self._files: set[str] = set()  # reserved names, case-folded
        self._dirs: set[str] = set()
        self._next: dict[tuple[str, bool], int] = {}  # where _free's next search starts
        self._temporary: set[str] = set()
        self._lock = threading.Lock()
        self._abandoned = False
        #: Write each body to an unnamed file where the system can (Linux).
        self.unnamed = True
        # File operations under way outside the lock; abandon() waits for them.
        self._operations = 0
        self._settled = threading.Condition(self._lock)

    def prepare(self) -> None:
        """Create the directory if missing and make sure files can be written in it.

        :raises OSError: with a message that says what is wrong.
        """
        try:
            os.makedirs(self.root, exist_ok=True)
        except FileExistsError:
            raise NotADirectoryError(f"{self.root} is not a directory") from None
        except OSError as exc:
            raise OSError(f"cannot create {self.root}: {exc.strerror}") from None
        try:
            probe, name = _create_temporary(self.root)
        except OSError as exc:
            raise OSError(f"cannot write in {self.root}: {exc.strerror}") from None
        os.close(probe)
        os.unlink(name)
        if self.unnamed:
            self.unnamed = _unnamed_files_work(self.root)

    def reserve(self, url: str) -> str:
        """The file for ``url``'s body: a path under the directory no other URL got.

        Two URLs that map to one name get ``name``, ``name.1``, ``name.2``… in
        the order they are reserved, so the same list of URLs gives the same
        files every time.  Not thread-safe: reserve from one thread.
        """
        parts = relative_path(url, self.layout)
        taken: list[str] = []
        for part in parts[:-1]:
            part = self._free(taken, part, directory=True)
            taken.append(part)
            self._dirs.add(self._key(taken))
        taken.append(self._free(taken, parts[-1], directory=False))
        self._files.add(self._key(taken))
        return os.path.join(self.root, *taken)

    @staticmethod
    def _key(parts: list[str]) -> str:
        # Case-folded: two names that differ only in case are one file on
        # Windows and macOS.
        return "/".join(parts).casefold()

    def _free(self, parent: list[str], name: str, *, directory: bool) -> str:
        """``name`` under ``parent``, or ``name.N`` with the lowest N not yet taken.

        A directory may share its name with another directory only; a file
        with nothing.  Names are never given back, so the search for ``name``
        starts where the last one ended: the same name reserved n times takes
        n steps, not n * n / 2.
        """
        used = (self._files,) if directory else (self._files, self._dirs)
        start = (self._key([*parent, name]), directory)
        n = self._next.get(start, 0)
        while True:
            candidate = numbered(name, n) if n else name
            key = self._key([*parent, candidate])
            if not any(key in names for names in used):
                self._next[start] = n
                return candidate
            n += 1

    def callback(self, path: str) -> Callable[[Any, Response], Saved]:
        """A ``background_callback`` that saves a streamed response's body at ``path``."""

        def save(session: object, response: Response) -> Saved:
            return self.save(response, path)

        return save

    def save(self, response: Response, path: str) -> Saved:
        """Write ``response``'s body to ``path`` (whole, or not at all); close it.

        :raises OSError: if the file cannot be written (the disk is full…).
        :raises requests.RequestException: if the body broke off.
        """
        with response:
            if not (200 <= response.status_code < 300 or self.save_errors):
                size = sum(len(chunk) for chunk in response.iter_content(self.chunk))
                return Saved(response.status_code, response.url, size, None)
            size = self._write(response, path)
            return Saved(response.status_code, response.url, size, path)

    def _folder(self, path: str) -> str:
        """The directory of ``path``, created if missing; symbolic links not followed."""
        if os.path.dirname(path) == self.root:  # --save-as name: nothing to create
            return self.root
        folder = self.root
        relative = os.path.relpath(os.path.dirname(path), self.root)
        if relative == os.curdir:  # the same folder, spelled otherwise ("DIR/")
            return folder
        for part in relative.split(os.sep):
            folder = os.path.join(folder, part)
            if os.path.islink(folder):
                raise PermissionError(f"{folder} is a symbolic link: it could lead outside")
            with contextlib.suppress(FileExistsError):
                os.mkdir(folder)
        return folder

    def _write(self, response: Response, path: str) -> int:
        with self._operation():
            folder = self._folder(path)
            # Unnamed until whole where the system allows it (see .unnamed),
            # else under a temporary name, renamed into place at the end.
            fd = create_unnamed(folder) if self.unnamed else None
            temporary = None
            if fd is None:
                fd, temporary = _create_temporary(folder)
                with self._lock:
                    self._temporary.add(temporary)
        try:
            try:
                size = splice_body(response, fd, self._count)
                if size is None:
                    with os.fdopen(fd, "wb", closefd=False) as file:
                        size = self._copy(response, file)
            except BaseException:
                os.close(fd)
                raise
            if temporary is None:
                self._name(fd, path, folder)
            else:
                os.close(fd)  # first: Windows renames no file that is open
                self._rename(temporary, path)
            return size
        except BaseException:
            if temporary is not None:
                _remove(temporary)  # then forgotten: abandon() may remove it too, never miss it
                with self._lock:
                    self._temporary.discard(temporary)
            raise

    def _name(self, fd: int, path: str, folder: str) -> None:
        """Give the unnamed file open at ``fd`` the name ``path``, and close it."""
        closed = False
        try:
            with self._operation():
                give_name(fd, path, lambda: _temporary_path(folder))
                closed = True
                try:
                    os.close(fd)
                except OSError:
                    # A write error told only now (a network file system):
                    # what is under the name is not whole.
                    _remove(path)
                    raise
        finally:
            if not closed:
                os.close(fd)

    def _rename(self, temporary: str, path: str) -> None:
        # abandon() removes no temporary file while an operation is under way,
        # and one that has started refuses to let this one begin.
        with self._operation():
            try:
                os.replace(temporary, path)
            except BaseException:
                _remove(temporary)  # before abandon() can return
                raise
            with self._lock:
                self._temporary.discard(temporary)

    @contextlib.contextmanager
    def _operation(self) -> Iterator[None]:
        """Run a file operation outside the lock, but never after abandon() has returned.

        (Creating or renaming a file takes long enough that eight workers
        doing it under the lock queued behind each other.)  So abandon()
        must not be called from inside one: by a saving thread, say.
        """
        with self._lock:
            if self._abandoned:
                raise InterruptedError("the run was stopped")
            self._operations += 1
        try:
            yield
        finally:
            with self._lock:
                self._operations -= 1
                if not self._operations:
                    self._settled.notify_all()

    def _copy(self, response: Response, file: BinaryIO) -> int:
        """Write ``response``'s body to ``file`` as ``requests`` reads it; its size."""
        size = 0
        for chunk in response.iter_content(self.chunk):
            file.write(chunk)
            size += len(chunk)
            self._count(len(chunk))
        _check_length(response)
        return size

    def _count(self, size: int) -> None:
        with self._lock:
            self.written += size

    def abandon(self) -> None:
        """Remove the temporary files of unfinished downloads; start no more."""
        with self._lock:
            self._abandoned = True
            while self._operations:
                self._settled.wait()
            for temporary in self._temporary:
                _remove(temporary)
            self._temporary.clear()


def _check_length(response: Response) -> None:
    """Raise if fewer bytes came than ``Content-Length`` announced.

    urllib3 2 checks this itself; urllib3 1.26, which requests still allows,
    does not.
    """
    if response.request.method == "HEAD" or response.status_code in (204, 304):
        return  # no body, whatever the header says
    announced = response.headers.get("Content-Length", "")
    received = response.raw.tell()
    if announced.isdigit() and int(announced) != received:
        raise ChunkedEncodingError(
            f"the body ended after {received} of {announced} bytes (Content-Length)"
        )


def _temporary_path(folder: str) -> str:
    return os.path.join(folder, f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}")


def _create_temporary(folder: str) -> tuple[int, str]:
    """Create a new temporary file in ``folder``; its descriptor, open for writing, and path.

    Not ``tempfile.mkstemp``: its files are private (mode 0600), and the file
    saved is the temporary file renamed, so it gets the usual mode here.
    """
    path = _temporary_path(folder)
    # O_BINARY: on Windows a descriptor is in text mode unless told otherwise.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.open(path, flags, 0o666), path


def _unnamed_files_work(folder: str) -> bool:
    """Whether an unnamed file can be made in ``folder`` and given a name there.

    (Linking through ``/proc/self/fd`` may be refused where ``O_TMPFILE``
    works: some sandboxes.)  The probe's file is removed.
    """
    fd = create_unnamed(folder)
    if fd is None:
        return False
    probe = _temporary_path(folder)
    try:
        give_name(fd, probe, lambda: _temporary_path(folder))
    except OSError:
        return False
    finally:
        os.close(fd)
    _remove(probe)
    return True


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
