//! `tojson` for chat templates: JSON written the way Python's `json.dumps(ensure_ascii=False)`
//! writes it (`", "` and `": "` separators, `1.0` for whole floats), which is what Hugging Face
//! templates expect to produce.

use std::fmt::Write;

use minijinja::value::ValueKind;
use minijinja::{Error, ErrorKind, Value};

/// Serializes `value` like `json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=sort_keys)`.
pub(crate) fn python_dumps(
    value: &Value,
    indent: Option<usize>,
    sort_keys: bool,
) -> Result<String, Error> {
    let mut out = String::new();
    write_value(&mut out, value, indent, sort_keys, 0)?;
    Ok(out)
}

fn newline(out: &mut String, indent: Option<usize>, level: usize) {
    if let Some(width) = indent {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', width * level));
    }
}

fn write_value(
    out: &mut String,
    value: &Value,
    indent: Option<usize>,
    sort_keys: bool,
    level: usize,
) -> Result<(), Error> {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            if value.is_integer() {
                write!(out, "{value}")
                    .map_err(|e| Error::new(ErrorKind::WriteFailure, e.to_string()))?;
            } else {
                let f = f64::try_from(value.clone())?;
                out.push_str(&python_float(f));
            }
        }
        ValueKind::String => write_string(out, value.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(if indent.is_some() { "," } else { ", " });
                }
                newline(out, indent, level + 1);
                write_value(out, item, indent, sort_keys, level + 1)?;
            }
            newline(out, indent, level);
            out.push(']');
        }
        ValueKind::Map => {
            let mut keys: Vec<Value> = value.try_iter()?.collect();
            if sort_keys {
                keys.sort();
            }
            if keys.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(if indent.is_some() { "," } else { ", " });
                }
                newline(out, indent, level + 1);
                match key.as_str() {
                    Some(k) => write_string(out, k),
                    None => write_string(out, &key.to_string()),
                }
                out.push_str(": ");
                write_value(out, &value.get_item(key)?, indent, sort_keys, level + 1)?;
            }
            newline(out, indent, level);
            out.push('}');
        }
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("tojson cannot serialize a value of kind {other}"),
            ));
        }
    }
    Ok(())
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `repr(float)` as `json.dumps` writes it.
fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Rust writes `1e20` / `1.5e-5`; Python writes `1e+20` / `1.5e-05`.
        let s = format!("{f:e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exponent.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exponent),
        };
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    if f.fract() == 0.0 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_python() {
        assert_eq!(python_float(1.0), "1.0");
        assert_eq!(python_float(0.1), "0.1");
        assert_eq!(python_float(-2.5), "-2.5");
        assert_eq!(python_float(1e20), "1e+20");
        assert_eq!(python_float(1.5e-5), "1.5e-05");
        assert_eq!(python_float(f64::NAN), "NaN");
    }

    #[test]
    fn strings_and_containers_like_python() {
        let v = Value::from(minijinja::value::Serde(
            serde_json::json!({"b": [1, 2.0, "x\"\n\u{1}é"], "a": null, "c": {}}),
        ));
        assert_eq!(
            python_dumps(&v, None, false).unwrap(),
            r#"{"b": [1, 2.0, "x\"\n\u0001é"], "a": null, "c": {}}"#
        );
        assert_eq!(
            python_dumps(&v, None, true).unwrap(),
            r#"{"a": null, "b": [1, 2.0, "x\"\n\u0001é"], "c": {}}"#
        );
        assert_eq!(
            python_dumps(
                &Value::from(minijinja::value::Serde(serde_json::json!({"a": [1]}))),
                Some(2),
                false
            )
            .unwrap(),
            "{\n  \"a\": [\n    1\n  ]\n}"
        );
    }
}
