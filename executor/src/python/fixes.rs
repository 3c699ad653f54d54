//! Corrections of RustPython 0.5 behaviours that differ from CPython, installed into every
//! interpreter the executor builds (the expectations of the correctness corpus are CPython's).
//!
//! | what | RustPython 0.5 | CPython, and what is installed |
//! |---|---|---|
//! | `round(x, n)` of a float, `n ≥ 0` | multiplies by `10**n` and rounds: `round(2.675, 2)` is `2.68` | rounds the exact binary value half-to-even: `2.67` (Rust's exact float formatting does the same) |
//! | `str()` of a `SyntaxError` made with one argument | `msg (None, line None)` | `msg`: the location is added only when `lineno` is an int / `filename` a str |
//! | `real + complex`, `real - complex` | Python 3.14's mixed-mode rule: `3 - (1+0j)` is `(2-0j)` | the real is made `complex(real, 0.0)` first: `(2+0j)` |
//! | `complex / complex` | textbook formula: `(1+2j)/(1-1j)` is `(-0.49999999999999994+1.4999999999999998j)` | Smith's algorithm, as CPython: `(-0.5+1.5j)` |
//! | `complex ** n` | always through polar form: `1j ** 2` is `(-1+1.2246467991473532e-16j)` | integer exponents up to 100 by repeated multiplication: `(-1+0j)`; others with CPython's formula |
//! | `repr()`/`str()` of a float whose exact value lies halfway between its two shortest round-tripping digit strings | the upper one: `repr(1e15 + 0.3)` is `1000000000000000.3` | the even one, as CPython's dtoa: `1000000000000000.2` |
//!
//! Built-in types belong to the interpreter's per-thread base context, so the corrected methods
//! are set on the types themselves; user code still cannot change those types.

use num_complex::Complex64;
use rustpython_vm::builtins::{PyBaseExceptionRef, PyComplex, PyFloat, PyInt, PyStr};
use rustpython_vm::function::OptionalOption;
use rustpython_vm::{AsObject, PyObject, PyObjectRef, PyRef, PyResult, VirtualMachine};

/// The largest `n` for which `round(x, n)` can change a float (CPython's `NDIGITS_MAX`).
const NDIGITS_MAX: i64 = 323;

thread_local! {
    /// Whether this thread's base context (shared by every interpreter the thread builds) has
    /// the corrections already.
    static INSTALLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs every correction of this module (once per thread).
pub(crate) fn install(vm: &VirtualMachine) {
    if INSTALLED.with(|done| done.replace(true)) {
        return;
    }
    let float_type = vm.ctx.types.float_type;
    let round = vm.new_method("__round__", float_type, float_round);
    float_type.set_attr(vm.ctx.intern_str("__round__"), round.into());
    float_type.slots.repr.store(Some(float_repr_slot));
    let repr = vm.new_method("__repr__", float_type, float_repr_method);
    float_type.set_attr(vm.ctx.intern_str("__repr__"), repr.into());
    let syntax_error = vm.ctx.exceptions.syntax_error;
    let str_fn = vm.new_method("__str__", syntax_error, syntax_error_str);
    syntax_error.set_attr(vm.ctx.intern_str("__str__"), str_fn.into());
    let number = &vm.ctx.types.complex_type.slots.as_number;
    number.add.store(Some(complex_add));
    number.right_add.store(Some(complex_add));
    number.subtract.store(Some(complex_subtract));
    number.right_subtract.store(Some(complex_subtract));
    number.true_divide.store(Some(complex_divide));
    number.right_true_divide.store(Some(complex_divide));
    number.power.store(Some(complex_power));
    number.right_power.store(Some(complex_power));
}

/// An operand of complex arithmetic as CPython 3.11 converts it, or `None` (not a number).
fn as_complex(obj: &PyObject, vm: &VirtualMachine) -> PyResult<Option<Complex64>> {
    if let Some(c) = obj.downcast_ref::<PyComplex>() {
        return Ok(Some(c.to_complex()));
    }
    if let Some(f) = obj.downcast_ref::<PyFloat>() {
        return Ok(Some(Complex64::new(f.to_f64(), 0.0)));
    }
    if let Some(i) = obj.downcast_ref::<PyInt>() {
        let re = num_traits::ToPrimitive::to_f64(i.as_bigint())
            .filter(|f| f.is_finite())
            .ok_or_else(|| vm.new_overflow_error("int too large to convert to float"))?;
        return Ok(Some(Complex64::new(re, 0.0)));
    }
    Ok(None)
}

fn complex_op(
    a: &PyObject,
    b: &PyObject,
    vm: &VirtualMachine,
    op: impl FnOnce(Complex64, Complex64) -> PyResult<Complex64>,
) -> PyResult {
    match (as_complex(a, vm)?, as_complex(b, vm)?) {
        (Some(x), Some(y)) => Ok(vm.ctx.new_complex(op(x, y)?).into()),
        _ => Ok(vm.ctx.not_implemented()),
    }
}

fn complex_add(a: &PyObject, b: &PyObject, vm: &VirtualMachine) -> PyResult {
    complex_op(a, b, vm, |x, y| Ok(x + y))
}

fn complex_subtract(a: &PyObject, b: &PyObject, vm: &VirtualMachine) -> PyResult {
    complex_op(a, b, vm, |x, y| Ok(x - y))
}

fn complex_divide(a: &PyObject, b: &PyObject, vm: &VirtualMachine) -> PyResult {
    complex_op(a, b, vm, |x, y| {
        complex_quotient(x, y).ok_or_else(|| vm.new_zero_division_error("complex division by zero"))
    })
}

/// CPython's `_Py_c_quot` (Smith's algorithm); `None` for a zero divisor.
fn complex_quotient(a: Complex64, b: Complex64) -> Option<Complex64> {
    let (abs_re, abs_im) = (b.re.abs(), b.im.abs());
    if abs_re >= abs_im {
        if abs_re == 0.0 {
            return None;
        }
        let ratio = b.im / b.re;
        let denom = b.re + b.im * ratio;
        Some(Complex64::new((a.re + a.im * ratio) / denom, (a.im - a.re * ratio) / denom))
    } else if abs_im >= abs_re {
        let ratio = b.re / b.im;
        let denom = b.re * ratio + b.im;
        Some(Complex64::new((a.re * ratio + a.im) / denom, (a.im * ratio - a.re) / denom))
    } else {
        Some(Complex64::new(f64::NAN, f64::NAN))
    }
}

fn complex_power(a: &PyObject, b: &PyObject, modulo: &PyObject, vm: &VirtualMachine) -> PyResult {
    if !vm.is_none(modulo) {
        return Err(vm.new_value_error("complex modulo"));
    }
    complex_op(a, b, vm, |x, y| {
        let z = complex_pow(x, y).ok_or_else(|| {
            vm.new_zero_division_error("zero to a negative or complex power")
        })?;
        if z.is_infinite() && !(x.is_infinite() || y.is_infinite()) {
            return Err(vm.new_overflow_error("complex exponentiation"));
        }
        Ok(z)
    })
}

/// CPython's `complex_pow`: small integer exponents by repeated squaring, others in polar
/// form; `None` for zero to a negative or complex power.
fn complex_pow(a: Complex64, b: Complex64) -> Option<Complex64> {
    if b.im == 0.0 && b.re == b.re.trunc() && b.re.abs() <= 100.0 {
        let n = b.re as i32;
        if a == Complex64::new(0.0, 0.0) && n < 0 {
            return None;
        }
        let powu = |mut x: Complex64, mut n: u32| {
            let mut r = Complex64::new(1.0, 0.0);
            while n > 0 {
                if n & 1 == 1 {
                    r *= x;
                }
                x *= x;
                n >>= 1;
            }
            r
        };
        return Some(if n >= 0 { powu(a, n as u32) } else { Complex64::new(1.0, 0.0) / powu(a, n.unsigned_abs()) });
    }
    if b == Complex64::new(0.0, 0.0) {
        return Some(Complex64::new(1.0, 0.0));
    }
    if a == Complex64::new(0.0, 0.0) {
        return if b.im != 0.0 || b.re < 0.0 { None } else { Some(a) };
    }
    let vabs = a.re.hypot(a.im);
    let mut len = vabs.powf(b.re);
    let at = a.im.atan2(a.re);
    let mut phase = at * b.re;
    if b.im != 0.0 {
        len /= (at * b.im).exp();
        phase += b.im * vabs.ln();
    }
    Some(Complex64::new(len * phase.cos(), len * phase.sin()))
}

fn float_round(zelf: PyObjectRef, ndigits: OptionalOption<PyObjectRef>, vm: &VirtualMachine) -> PyResult {
    let Some(x) = zelf.downcast_ref::<PyFloat>().map(|f| f.to_f64()) else {
        return Err(vm.new_type_error("descriptor '__round__' requires a 'float' object"));
    };
    let Some(ndigits) = ndigits.flatten().filter(|n| !vm.is_none(n)) else {
        return round_to_int(x, vm);
    };
    let ndigits = ndigits.try_index(vm)?;
    let n = num_traits::ToPrimitive::to_i64(ndigits.as_bigint())
        .unwrap_or(if ndigits.as_bigint().sign() == malachite_bigint::Sign::Minus { i64::MIN } else { i64::MAX });
    Ok(vm.ctx.new_float(round_digits(x, n)).into())
}

fn float_repr_slot(zelf: &PyObject, vm: &VirtualMachine) -> PyResult<PyRef<PyStr>> {
    let x = zelf
        .downcast_ref::<PyFloat>()
        .map(|f| f.to_f64())
        .ok_or_else(|| vm.new_type_error("descriptor '__repr__' requires a 'float' object"))?;
    Ok(vm.ctx.new_str(float_repr(x)))
}

fn float_repr_method(zelf: PyObjectRef, vm: &VirtualMachine) -> PyResult<PyRef<PyStr>> {
    float_repr_slot(&zelf, vm)
}

/// CPython's `repr()` of a float: the shortest digit string that reads back as `x`, the one
/// closest to `x`'s exact value, an exact tie going to the even digit; fixed notation for
/// decimal exponents from -4 to 15, `d.ddde±XX` otherwise.
fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    let a = x.abs();
    // Rust finds the shortest length; its exact formatting at that length rounds the exact
    // value half to even, which is the digit string CPython picks.
    let shortest = format!("{a:e}");
    let (mantissa, _) = shortest.split_once('e').unwrap_or((&shortest, "0"));
    let length = mantissa.chars().filter(char::is_ascii_digit).count().max(1);
    let nearest = format!("{a:.*e}", length - 1);
    let chosen = if nearest.parse::<f64>() == Ok(a) { nearest } else { shortest };
    let (mantissa, exponent) = chosen.split_once('e').unwrap_or((&chosen, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = match digits.trim_end_matches('0') {
        "" => "0",
        trimmed => trimmed,
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let n = digits.len() as i32;
    let body = if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point >= n {
            format!("{digits}{}.0", "0".repeat((point - n) as usize))
        } else {
            format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
        }
    } else {
        let fraction = if n > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{}{fraction}e{exp_sign}{:02}", &digits[..1], exponent.abs())
    };
    format!("{sign}{body}")
}

fn round_to_int(x: f64, vm: &VirtualMachine) -> PyResult {
    if x.is_nan() {
        return Err(vm.new_value_error("cannot convert float NaN to integer"));
    }
    if x.is_infinite() {
        return Err(vm.new_overflow_error("cannot convert float infinity to integer"));
    }
    let int: malachite_bigint::BigInt = num_traits::FromPrimitive::from_f64(x.round_ties_even())
        .ok_or_else(|| vm.new_overflow_error("cannot convert float to integer"))?;
    Ok(vm.ctx.new_int(int).into())
}

/// `x` rounded to `n` decimal digits as CPython does.
fn round_digits(x: f64, n: i64) -> f64 {
    if !x.is_finite() || x == 0.0 || n > NDIGITS_MAX {
        return x;
    }
    if n >= 0 {
        // Rust formats the exact binary value and breaks exact ties to even, like CPython's dtoa.
        return format!("{:.*}", n as usize, x).parse().unwrap_or(x);
    }
    if n < -308 {
        return 0.0_f64.copysign(x);
    }
    let scale = 10f64.powi((-n) as i32);
    let rounded = (x / scale).round_ties_even() * scale;
    if rounded.is_finite() { rounded } else { x }
}

fn syntax_error_str(zelf: PyBaseExceptionRef, vm: &VirtualMachine) -> PyResult {
    let obj = zelf.as_object();
    let Ok(msg) = obj.get_attr("msg", vm) else {
        let args = zelf.args();
        return Ok(match args.len() {
            0 => vm.ctx.new_str("").into(),
            1 => args[0].str(vm)?.into(),
            _ => args.as_object().str(vm)?.into(),
        });
    };
    let msg = msg.str(vm)?;
    let lineno = obj.get_attr("lineno", vm).ok().filter(|l| l.downcast_ref::<PyInt>().is_some());
    let filename = obj.get_attr("filename", vm).ok().and_then(|f| f.downcast::<PyStr>().ok());
    let basename = |f: &PyStr| {
        let name = f.as_wtf8().to_string_lossy().into_owned();
        name.rsplit('/').next().unwrap_or_default().to_owned()
    };
    let text = match (lineno, filename) {
        (Some(line), Some(file)) => format!("{} ({}, line {})", msg.as_wtf8(), basename(&file), line.str(vm)?),
        (Some(line), None) => format!("{} (line {})", msg.as_wtf8(), line.str(vm)?),
        (None, Some(file)) => format!("{} ({})", msg.as_wtf8(), basename(&file)),
        (None, None) => return Ok(msg.into()),
    };
    Ok(vm.ctx.new_str(text).into())
}

#[cfg(test)]
mod tests {
    use super::{Complex64, complex_pow, float_repr, round_digits};

    #[test]
    fn float_repr_is_cpythons() {
        for (x, text) in [
            (1e15 + 0.3, "1000000000000000.2"),
            (0.1, "0.1"),
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.30000000000000004, "0.30000000000000004"),
            (2.675, "2.675"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ] {
            assert_eq!(float_repr(x), text, "{x:e}");
        }
    }

    #[test]
    fn complex_division_is_smiths() {
        let q = super::complex_quotient(Complex64::new(1.0, 2.0), Complex64::new(1.0, -1.0));
        assert_eq!(q, Some(Complex64::new(-0.5, 1.5)));
        assert_eq!(super::complex_quotient(Complex64::new(1.0, 0.0), Complex64::new(0.0, 0.0)), None);
    }

    #[test]
    fn integer_powers_of_complex_numbers_are_exact() {
        assert_eq!(complex_pow(Complex64::new(0.0, 1.0), Complex64::new(2.0, 0.0)), Some(Complex64::new(-1.0, 0.0)));
        assert_eq!(complex_pow(Complex64::new(1.0, 1.0), Complex64::new(-2.0, 0.0)), Some(Complex64::new(0.0, -0.5)));
        assert_eq!(complex_pow(Complex64::new(0.0, 0.0), Complex64::new(-1.0, 0.0)), None);
        assert_eq!(complex_pow(Complex64::new(0.0, 0.0), Complex64::new(0.5, 1.0)), None);
    }

    #[test]
    fn rounding_follows_the_exact_binary_value() {
        assert_eq!(round_digits(2.675, 2), 2.67);
        assert_eq!(round_digits(0.125, 2), 0.12);
        assert_eq!(round_digits(0.375, 2), 0.38);
        assert_eq!(round_digits(1e15 + 0.3, 1), 1_000_000_000_000_000.2);
        assert_eq!(round_digits(1234.5, -2), 1200.0);
        assert_eq!(round_digits(-2.5, 0), -2.0);
        assert_eq!(round_digits(1.5, 400), 1.5);
        assert_eq!(round_digits(1e300, -400), 0.0);
        assert!(round_digits(f64::NAN, 2).is_nan());
    }
}
