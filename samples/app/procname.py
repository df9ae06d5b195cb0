"""Give a Python service a recognisable kernel thread name.

Every Python process is "python3" to the kernel, so a capture of the demo
would show three processes with the same comm.  PR_SET_NAME renames the
calling thread, and threads created afterwards inherit the name, so calling
this first thing in main() names the whole service for httpcap (--comm) and
httpanalyze's listings.
"""

import ctypes
import ctypes.util

PR_SET_NAME = 15


def set_comm(name):
    """Set the kernel comm (at most 15 bytes) of the calling thread."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    except OSError:
        pass  # cosmetic only: the service works under any name
