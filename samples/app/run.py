#!/usr/bin/python3
"""Start the whole demo application with one command, stop it on a signal.

  run.py [--base-port 5100] [--log groundtruth.jsonl] [--workdir DIR]

starts, all on 127.0.0.1:
  redis-server   on base+1, its own config (no persistence, no daemon)
  demo-api       on base+2 (external.py, the stand-in external API)
  demo-front     on base   (front.py, the Flask front service)
waits until each answers, seeds the database, prints "ready" on stdout, and
then waits.  SIGINT or SIGTERM (or any child dying) stops every child and
exits; nothing is left running.  Python standard library only, besides the
services' own packages.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = sys.executable or "/usr/bin/python3"
START_TIMEOUT = 15.0    # seconds for each service to start listening

REDIS_CONF = """\
# Written by samples/app/run.py: a throwaway database for the demo.
bind 127.0.0.1
port {port}
protected-mode yes
daemonize no
save ""
appendonly no
dir {dir}
logfile {dir}/redis.log
databases 1
"""


def wait_port(port, proc, name):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with status {proc.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} not listening on port {port} after {START_TIMEOUT:.0f} s")


def check_free(port):
    """Fail early on a port in use: wait_port would take the other
    program's listener for ours."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            raise RuntimeError(f"port {port} on 127.0.0.1 is in use ({e.strerror}): "
                               f"stop what listens there, or choose another --base-port")


def redis_cmd(port, *args):
    """Send one command in RESP and return the raw reply (seeding only)."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(out)
        return s.recv(4096)


def seed(port):
    names = ["ada", "grace", "linus", "ken", "dennis", "barbara", "edsger", "donald",
             "margaret", "radia"]
    for i, name in enumerate(names, 1):
        redis_cmd(port, "SET", f"user:{i}", name)
        redis_cmd(port, "HSET", f"profile:{i}", "name", name, "plan", "pro" if i % 3 else "free")
    redis_cmd(port, "RPUSH", "orders", "o-1", "o-2", "o-3", "o-4", "o-5", "o-6")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-port", type=int, default=5100)
    ap.add_argument("--log", help="ground-truth JSON lines file (truncated)")
    ap.add_argument("--workdir", help="folder for redis.conf and logs (default: a temp dir)")
    args = ap.parse_args()
    front_port, redis_port, api_port = args.base_port, args.base_port + 1, args.base_port + 2

    workdir = args.workdir or tempfile.mkdtemp(prefix="httpcap-demo.")
    os.makedirs(workdir, exist_ok=True)
    if args.log:
        open(args.log, "w").close()
    conf = os.path.join(workdir, "redis.conf")
    with open(conf, "w") as f:
        f.write(REDIS_CONF.format(port=redis_port, dir=workdir))

    children = []
    stopping = []

    def stop(signum=None, frame=None):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, stop)
    status = 0
    try:
        for port in (front_port, redis_port, api_port):
            check_free(port)
        log = ["--log", os.path.abspath(args.log)] if args.log else []
        p = subprocess.Popen(["redis-server", conf])
        children.append(p)
        wait_port(redis_port, p, "redis-server")
        seed(redis_port)
        p = subprocess.Popen([PYTHON, os.path.join(HERE, "external.py"),
                              "--port", str(api_port)] + log)
        children.append(p)
        wait_port(api_port, p, "demo-api")
        p = subprocess.Popen([PYTHON, os.path.join(HERE, "front.py"), "--port", str(front_port),
                              "--redis-port", str(redis_port), "--api-port", str(api_port)] + log)
        children.append(p)
        wait_port(front_port, p, "demo-front")
        print(f"ready: front http://127.0.0.1:{front_port}  redis 127.0.0.1:{redis_port}"
              f"  api http://127.0.0.1:{api_port}  pids {' '.join(str(c.pid) for c in children)}",
              flush=True)
        while not stopping:
            dead = [c for c in children if c.poll() is not None]
            if dead:
                print(f"run.py: child {dead[0].args[0]} exited with status {dead[0].returncode}",
                      file=sys.stderr)
                status = 1
                break
            time.sleep(0.2)
    except (RuntimeError, OSError) as e:
        print(f"run.py: {e}", file=sys.stderr)
        status = 1
    finally:
        for c in reversed(children):
            if c.poll() is None:
                c.terminate()
        for c in reversed(children):
            try:
                c.wait(timeout=5)
            except subprocess.TimeoutExpired:
                c.kill()
                c.wait()
    return status


if __name__ == "__main__":
    sys.exit(main())
