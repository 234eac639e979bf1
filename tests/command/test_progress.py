#!/usr/bin/python3
"""test_progress.py - `taskfarm --progress` under a real pseudo-terminal.

With stderr on a pty the bar is drawn there (carriage returns, a percent,
the rate) and stdout, a file, holds the tasks' output intact; with stderr
not a terminal, nothing but the tasks' own stderr is written.

usage: test_progress.py TASKFARM
"""
import os
import pty
import subprocess
import sys
import tempfile

taskfarm = sys.argv[1]
failed = 0


def check(name, cond):
    global failed
    print(("PASS: " if cond else "FAIL: ") + name)
    failed += 0 if cond else 1


cmd = [taskfarm, "--progress", "-j2", "sh", "-c",
       'sleep 0.05; echo "out $1"; echo "err $1" >&2', "sh", ":::"]
cmd += [str(i) for i in range(30)]
want_out = "".join("out %d\n" % i for i in range(30))

with tempfile.TemporaryFile() as out:
    master, slave = pty.openpty()
    p = subprocess.Popen(cmd, stdout=out, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    tty = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:         # EIO: the child closed its end
            break
        if not chunk:
            break
        tty += chunk
    rc = p.wait()
    os.close(master)
    out.seek(0)
    got = out.read().decode()
text = tty.decode(errors="replace")
check("--progress on a pty: exit 0", rc == 0)
check("the bar is drawn on the terminal (\\r, 100%, rate)",
      "\r[" in text and "100%" in text and "30/30" in text and "/s" in text)
check("the bar is redrawn on one line (several \\r)", text.count("\r[") >= 2)
check("stdout intact, no bar in it", got == want_out)
errs = [l for l in text.replace("\r\n", "\n").split("\n") if "err " in l]
check("each task's stderr still whole on the terminal",
      sorted(l[l.index("err "):].strip() for l in errs)
      == sorted("err %d" % i for i in range(30)))

r = subprocess.run(cmd, capture_output=True, text=True)
check("stderr not a terminal: no bar at all",
      r.returncode == 0 and "[" not in r.stderr and "%" not in r.stderr
      and r.stdout == want_out)
print("%d failed" % failed)
sys.exit(1 if failed else 0)
