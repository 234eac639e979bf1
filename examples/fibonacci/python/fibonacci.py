"""fibonacci.py - the tutorial's serial program: the exact Fibonacci number
at a few positions, by the plain loop on Python's big integers.

    python3 fibonacci.py            positions 7 and 20, as the tutorial
    python3 fibonacci.py 100 1000   any positions

The parallel programs beside it import fib from here.
"""
import sys


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


if __name__ == "__main__":
    try:
        positions = [int(a) for a in sys.argv[1:]] or [7, 20]
        if min(positions) < 0:
            raise ValueError
    except ValueError:
        sys.exit("fibonacci.py: positions are integers >= 0, not %s"
                 % " ".join(sys.argv[1:]))
    for n in positions:
        print(f"Fibonacci number at position {n} is: {fib(n)}")
