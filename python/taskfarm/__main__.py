"""python3 -m taskfarm [--version | --cpus]"""
import sys

from . import __version__, cpus


def main(argv):
    if argv in ([], ["--version"]):
        print("taskfarm %s" % __version__)
        return 0
    if argv == ["--cpus"]:
        n, source = cpus()
        print("%d CPUs (from %s)" % (n, source))
        return 0
    print("usage: python3 -m taskfarm [--version | --cpus]", file=sys.stderr)
    return 2


sys.exit(main(sys.argv[1:]))
