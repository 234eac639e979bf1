#!/usr/bin/python3
"""fib.py - one Fibonacci number, by the tutorial's loop, in Python.

    python3 fib.py N [N...]    prints "Fibonacci number at position N is: F"

The same line as the C program (serial/fibonacci.c), so the two farms'
outputs can be compared byte for byte. A program of ours standing for
yours: taskfarm runs it once per input (c-cli.sh).
"""
import sys


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def main(args):
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)   # fib(10^5) has 20,899 digits
    if not args or not all(a.isdigit() for a in args):
        print("fib.py: usage: fib.py N [N...] (whole numbers)", file=sys.stderr)
        return 2
    for a in args:
        print("Fibonacci number at position %d is: %d" % (int(a), fib(int(a))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
