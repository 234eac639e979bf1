#!/usr/bin/python3
"""test_memory.py - `taskfarm`'s peak RSS stays bounded.

Each case runs taskfarm and reads its peak RSS (VmHWM) from /proc while
it runs. Bounds, against a run of one task:
  - many `true` from stdin: at most 64 MiB more, and 4x the tasks adds
    little (what grows is the inputs themselves: a few bytes each);
  - one task writing 256 MiB (spilled to a file, not held);
  - ordered output held behind a slow first task: 400 tasks of 512 kB
    (200 MiB) wait for it, and the back-pressure holds only a bounded part.

usage: test_memory.py TASKFARM [SMALL_N LARGE_N]
"""
import subprocess
import sys
import tempfile
import time

taskfarm = sys.argv[1]
small_n = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
large_n = int(sys.argv[3]) if len(sys.argv) > 3 else 16000
MIB = 1024
failed = 0

def peak_kib(args, stdin_text=""):
    """Peak RSS (KiB) of one taskfarm run and its exit status: VmHWM, the
    high-water mark of its own memory since exec, read from /proc until it
    exits (getrusage would count the forked interpreter before the exec)."""
    with tempfile.TemporaryFile("w+") as f:
        f.write(stdin_text)
        f.seek(0)
        p = subprocess.Popen([taskfarm] + args, stdin=f,
                             stdout=subprocess.DEVNULL)
        hwm = 0
        while p.poll() is None:
            try:
                with open("/proc/%d/status" % p.pid) as st:
                    for line in st:
                        if line.startswith("VmHWM:"):
                            hwm = max(hwm, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.02)
    return p.returncode, hwm


def check(name, cond, detail):
    global failed
    print(("PASS: " if cond else "FAIL: ") + name + " (" + detail + ")")
    failed += 0 if cond else 1


# One task long enough for its peak to be read while it runs.
rc, base = peak_kib(["sleep", ":::", "0.5"])
print("baseline: %d KiB" % base)
inputs = lambda n: "".join("%d\n" % i for i in range(n))
rc1, small = peak_kib(["-j2", "true"], inputs(small_n))
rc2, large = peak_kib(["-j2", "true"], inputs(large_n))
check("%d x true from stdin: <= baseline + 64 MiB" % large_n,
      rc2 == 0 and large <= base + 64 * MIB,
      "%d KiB, baseline %d KiB" % (large, base))
check("%d tasks vs %d: not growing with N (< 4 MiB more)" % (large_n, small_n),
      rc1 == 0 and large - small < 4 * MIB,
      "%d KiB vs %d KiB" % (large, small))

rc, spill = peak_kib(["sh", "-c", "head -c 268435456 /dev/zero", ":::", "1"])
check("one task writing 256 MiB: spilled, <= baseline + 64 MiB",
      rc == 0 and spill <= base + 64 * MIB, "%d KiB" % spill)

held = ['-j2', 'sh', '-c',
        '[ "$1" = 0 ] && sleep 3; head -c 524288 /dev/zero', 'sh']
rc, ordered = peak_kib(held, inputs(400))
check("200 MiB of ordered output behind a slow task: <= baseline + 64 MiB",
      rc == 0 and ordered <= base + 64 * MIB, "%d KiB" % ordered)
print("%d failed" % failed)
sys.exit(1 if failed else 0)
