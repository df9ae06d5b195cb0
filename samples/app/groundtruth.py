"""Ground-truth log shared by the demo services.

Each service appends one JSON object per line to the same file: one
"request" record per inbound request it served and one "call" record per
downstream call it made, with the tag of the inbound request the call
served.  tests/demo/fidelity.py compares httpanalyze's attribution with
this file, so what is written here is what the application really did, as
the application itself saw it (thread ids are the kernel's, ports are the
socket's), never what the capture says.

Lines are written with O_APPEND and one write() each, so several processes
can share the file without interleaving lines.
"""

import json
import os
import threading
import time

_fd = None
_service = "?"
_lock = threading.Lock()


def open_log(path, service):
    """Open the ground-truth file for appending; path None disables logging."""
    global _fd, _service
    _service = service
    if path:
        _fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def now_ns():
    return time.time_ns()


def tag_of(query_value):
    """The tag a load generator put in ?n=..., or None."""
    if query_value is None or query_value == "":
        return None
    return str(query_value)


def write(kind, **fields):
    """Append one record; kind is "request" or "call"."""
    if _fd is None:
        return
    rec = {"kind": kind, "service": _service, "pid": os.getpid(),
           "tid": threading.get_native_id()}
    rec.update(fields)
    line = (json.dumps(rec, sort_keys=True) + "\n").encode()
    with _lock:
        os.write(_fd, line)
