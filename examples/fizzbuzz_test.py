# Tests for examples/fizzbuzz.py: each test_* function is reported on its own line.
def test_multiples_of_three():
    assert fizzbuzz(9) == "Fizz"


def test_multiples_of_five():
    assert fizzbuzz(10) == "Buzz"


def test_multiples_of_fifteen():
    assert fizzbuzz(30) == "FizzBuzz"


def test_other_numbers():
    assert fizzbuzz(7) == "7", "plain numbers are printed as they are"
