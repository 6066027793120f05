"""NHS number helpers: Modulus 11 check digits in the test range 999 000 0000 - 999 999 9999."""

from __future__ import annotations

import numpy as np

from ground.nhs import check_digits, is_valid_nhs_number


def _valid_test_numbers(stems: np.ndarray) -> np.ndarray:
    """The valid 10-digit numbers ``999 <stem> <check>`` of the given 6-digit stems, in their order."""
    digits = np.empty((stems.size, 9), dtype=np.int64)
    digits[:, 0:3] = 9
    rest = stems.copy()
    for pos in range(8, 2, -1):
        digits[:, pos] = rest % 10
        rest //= 10
    check = check_digits(digits)
    full = ((999_000_000 + stems) * 10 + check)[check != 10]
    return full[full != 9_999_999_999]


#: Distinct valid numbers in the test range: a generated population larger than this cannot give every
#: person a number of their own.
TEST_RANGE_CAPACITY = int(_valid_test_numbers(np.arange(1_000_000, dtype=np.int64)).size)


def generate_nhs_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """Draw ``n`` distinct valid NHS numbers from the test range 999 000 0000 - 999 999 9999.

    Args:
        rng: numpy random generator.
        n: how many numbers to draw (at most :data:`TEST_RANGE_CAPACITY`).

    Returns:
        List of 10-digit strings, all valid Modulus 11 and unique.
    """
    if n > TEST_RANGE_CAPACITY:
        raise ValueError(f"the NHS test range holds {TEST_RANGE_CAPACITY} valid numbers; {n} asked for")
    out: list[np.int64] = []
    seen: set[int] = set()
    have = 0
    while have < n:
        k = int((n - have) * 1.25) + 16
        full = _valid_test_numbers(rng.integers(0, 1_000_000, size=k, dtype=np.int64))
        for v in full.tolist():
            if v not in seen:
                seen.add(v)
                out.append(np.int64(v))
                have += 1
                if have >= n:
                    break
    return [str(int(v)) for v in out]


def mistype_nhs(number: str, rng: np.random.Generator) -> str:
    """Change one digit (not in the 999 prefix) so the number fails the Modulus 11 check.

    Args:
        number: a valid 10-digit NHS number.
        rng: numpy random generator.

    Returns:
        A 10-digit string that fails the Modulus 11 check.
    """
    for _ in range(50):
        pos = int(rng.integers(3, 10))
        new = str(int(rng.integers(0, 10)))
        cand = number[:pos] + new + number[pos + 1 :]
        if cand != number and not is_valid_nhs_number(cand):
            return cand
    return number[:9] + str((int(number[9]) + 1) % 10)
