#!/usr/bin/env python3
"""podnet's spawner: starts processes on behalf of the Node.js runner, faster.

Forking a large Node.js process costs milliseconds per child; Python's subprocess uses vfork and is several
times cheaper, and a lab starts hundreds of short processes. Protocol: one JSON request per line on stdin,
one JSON reply per line on stdout, matched by "id". No shell is ever involved: argv arrays only.

  {"id": 1, "argv": ["ip", "-batch", "-"], "stdin": "..."}          -> {"id": 1, "code": 0, "stdout": "...", "stderr": "..."}
  {"id": 2, "argv": ["unshare", ...], "daemon": true, "log": "/x"}  -> {"id": 2, "code": 0, "pid": 1234, "start": "5678"}
  ("start": the daemon's start time, field 22 of /proc/PID/stat, read here so the runner's thread does not)

Two steps it can take itself, so a pod needs fewer processes (src/exec/runner.ts DirectForm):
  "pidNs": "new" | "/proc/PID/ns/pid_for_children"  this thread creates / enters the PID namespace, starts argv
      (whose first process is then in it, with no `unshare --fork` / `nsenter --pid` parent), and goes home;
  "enter": {"pid": "1234", "ns": ["ipc", "uts", "net", "mnt"]}  (with "pidNs") this thread also enters those
      namespaces of process 1234, as `nsenter --target 1234 --ipc --uts --net --mount` would before its exec,
      and starts argv in them (the thread has its own root and working directory for that: unshare(CLONE_FS));
  "hostname": {"uts": "/proc/PID/ns/uts", "name": "a0"}  setns + sethostname on this thread, no process.
Namespaces are per thread: only the worker thread handling the request changes, and always returns home before
taking the next request (if going home fails, the helper aborts rather than start later processes in a pod).
"""
import ctypes, json, os, queue, socket, subprocess, sys, threading

out_lock = threading.Lock()
libc = ctypes.CDLL(None, use_errno=True)
CLONE_FS = 0x00000200
CLONE_NEWUTS = 0x04000000
CLONE_NEWPID = 0x20000000
NSTYPE = {"ipc": 0x08000000, "uts": CLONE_NEWUTS, "net": 0x40000000, "mnt": 0x00020000}
own_fs = threading.local()

def reply(obj):
    line = json.dumps(obj) + "\n"
    with out_lock:
        sys.stdout.write(line)
        sys.stdout.flush()

def check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))

class Away:
    """This thread in another namespace of type `nstype` for the duration of a with-block."""
    def __init__(self, nstype, enter):
        self.nstype, self.enter = nstype, enter
    def __enter__(self):
        kind = "pid_for_children" if self.nstype == CLONE_NEWPID else "uts"
        self.home = os.open("/proc/thread-self/ns/" + kind, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self.enter()
        except BaseException:
            os.close(self.home)
            raise
    def __exit__(self, *exc):
        if libc.setns(self.home, self.nstype) != 0:
            os.abort()
        os.close(self.home)

def enter_file(path, nstype):
    def enter():
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            check(libc.setns(fd, nstype), "setns " + path)
        finally:
            os.close(fd)
    return enter

def pid_namespace(spec):
    if spec == "new":
        return Away(CLONE_NEWPID, lambda: check(libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)"))
    return Away(CLONE_NEWPID, enter_file(spec, CLONE_NEWPID))

class Enter:
    """This thread in namespaces of another process (setns in the given order) for the duration of a with-block.
    Every file is opened before the first setns: once in the other mount namespace, /proc is the pod's."""
    def __init__(self, pid, kinds):
        self.pid, self.kinds = pid, kinds
    def __enter__(self):
        if not getattr(own_fs, "done", False):
            # setns into a mount namespace needs a root and working directory of this thread's own.
            check(libc.unshare(CLONE_FS), "unshare(CLONE_FS)")
            own_fs.done = True
        self.cwd = os.open(".", os.O_RDONLY | os.O_CLOEXEC)
        self.homes = []
        targets = []
        try:
            for k in self.kinds:
                self.homes.append((k, os.open("/proc/thread-self/ns/" + k, os.O_RDONLY | os.O_CLOEXEC)))
                targets.append(os.open("/proc/%s/ns/%s" % (self.pid, k), os.O_RDONLY | os.O_CLOEXEC))
            for (k, _), fd in zip(self.homes, targets):
                check(libc.setns(fd, NSTYPE[k]), "setns /proc/%s/ns/%s" % (self.pid, k))
        except BaseException:
            # Home from all of them (setns to the namespace one is in changes nothing).
            self.__exit__()
            raise
        finally:
            for fd in targets:
                os.close(fd)
    def __exit__(self, *exc):
        # Home in reverse order (going home cannot fail for namespaces we were in; if it did, abort rather than
        # start a later process in a pod), then back to the directory we were in.
        for k, home in reversed(self.homes):
            if libc.setns(home, NSTYPE[k]) != 0:
                os.abort()
            os.close(home)
        self.homes = []
        os.fchdir(self.cwd)
        os.close(self.cwd)

class Home:
    def __enter__(self): pass
    def __exit__(self, *exc): pass

def start_time(pid):
    """Field 22 of /proc/PID/stat (after the command name, which may hold spaces), or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
        rest = stat[stat.rindex(b")") + 2:].split(b" ")
        return None if rest[0] in (b"Z", b"X") else rest[19].decode()
    except (OSError, ValueError, IndexError):
        return None

def start(req, log):
    if log is not None:
        p = subprocess.Popen(req["argv"], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                             start_new_session=True, env=req.get("env") or None)
        # Daemons outlive the spawner; forget the Popen object without waiting.
        p.returncode = 0
        return {"code": 0, "pid": p.pid}
    r = subprocess.run(req["argv"], input=(req.get("stdin") or "").encode() if "stdin" in req else None,
                       stdin=None if "stdin" in req else subprocess.DEVNULL,
                       capture_output=True, env=req.get("env") or None)
    return {"code": r.returncode if r.returncode >= 0 else 128 - r.returncode,
            "stdout": r.stdout.decode(errors="replace"), "stderr": r.stderr.decode(errors="replace")}

def run(req):
    rid = req["id"]
    try:
        if "hostname" in req:
            h = req["hostname"]
            with Away(CLONE_NEWUTS, enter_file(h["uts"], CLONE_NEWUTS)):
                socket.sethostname(h["name"])
            reply({"id": rid, "code": 0, "stdout": "", "stderr": ""})
            return
        enter = req.get("enter")
        # The log is opened here, in our own mount namespace, as a shell redirection would be.
        with open(req["log"], "ab") if req.get("daemon") else Home() as log:
            with pid_namespace(req["pidNs"]) if "pidNs" in req else Home():
                with Enter(enter["pid"], enter["ns"]) if enter else Home():
                    answer = start(req, log)
        # Read at home: inside a pod's mount namespace /proc is the pod's.
        since = answer.get("pid") and start_time(answer["pid"])
        reply({"id": rid, **answer, **({"start": since} if since else {})})
    except FileNotFoundError as e:
        # The program, or a namespace file of a process that is gone.
        program = e.filename in (None, req["argv"][0])
        reply({"id": rid, "code": 127 if program else 126, "stdout": "",
               "stderr": "%s: command not found" % req["argv"][0] if program else "spawner: %s" % e})
    except Exception as e:  # report, never die: the runner waits for every id
        reply({"id": rid, "code": 126, "stdout": "", "stderr": "spawner: %s" % e})

def main():
    # A fixed set of worker threads (not concurrent.futures: its imports cost a tenth of the helper's start-up).
    work = queue.SimpleQueue()
    def worker():
        for req in iter(work.get, None):
            run(req)
    threads = [threading.Thread(target=worker) for _ in range(int(os.environ.get("PODNET_SPAWNER_THREADS", "16")))]
    for t in threads:
        t.start()
    for line in sys.stdin:
        if line.strip():
            work.put(json.loads(line))
    for _ in threads:
        work.put(None)
    for t in threads:
        t.join()

if __name__ == "__main__":
    main()
