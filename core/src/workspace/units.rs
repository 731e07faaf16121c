//! Memory and CPU quantities, parsed once for every input (workers.json,
//! manifests, bucket.jobs*.conf): `"4096 mb"`, `"2 gb"`, `"1.5 tb"`,
//! `"2000 mhz"`, `"2 ghz"`, plain `"512"` (MB or MHz). Case-insensitive.

/// Which kind of quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Memory, stored in MB.
    Memory,
    /// CPU, stored in MHz.
    Cpu,
}

/// Parse `text` as a quantity of `unit`, returning MB or MHz. The error is
/// a reason for the caller to place after the file and field.
pub fn parse_quantity(text: &str, unit: Unit) -> Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, suffix) = (t[..split].trim(), t[split..].trim());
    let factor = match (unit, suffix) {
        (Unit::Memory, "" | "mb" | "m") => 1.0,
        (Unit::Memory, "gb" | "g") => 1024.0,
        (Unit::Memory, "tb" | "t") => 1024.0 * 1024.0,
        (Unit::Cpu, "" | "mhz") => 1.0,
        (Unit::Cpu, "ghz") => 1000.0,
        (Unit::Cpu, "thz") => 1_000_000.0,
        _ => {
            let units = if unit == Unit::Memory { "mb, gb or tb" } else { "mhz, ghz or thz" };
            return Err(format!("{text:?} is not a quantity: expected a number with {units}, e.g. {}", example(unit)));
        }
    };
    let value: f64 = num
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("{text:?} is not a quantity: expected a number, e.g. {}", example(unit)))?;
    let scaled = (value * factor).round();
    if scaled > u32::MAX as f64 * 1024.0 {
        return Err(format!("{text:?} is too large"));
    }
    Ok(scaled as u64)
}

fn example(unit: Unit) -> &'static str {
    match unit {
        Unit::Memory => "\"4096 mb\" or \"2 gb\"",
        Unit::Cpu => "\"2000 mhz\" or \"2 ghz\"",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_quantity("4096 mb", Unit::Memory), Ok(4096));
        assert_eq!(parse_quantity("2 GB", Unit::Memory), Ok(2048));
        assert_eq!(parse_quantity("1.5gb", Unit::Memory), Ok(1536));
        assert_eq!(parse_quantity("512", Unit::Memory), Ok(512));
        assert_eq!(parse_quantity("2 ghz", Unit::Cpu), Ok(2000));
        assert_eq!(parse_quantity(" 2000 MHz ", Unit::Cpu), Ok(2000));
        assert!(parse_quantity("2 ghz", Unit::Memory).is_err());
        assert!(parse_quantity("lots", Unit::Memory).is_err());
        assert!(parse_quantity("-1 mb", Unit::Memory).is_err());
        assert!(parse_quantity("", Unit::Cpu).is_err());
        assert!(parse_quantity("1e99 tb", Unit::Memory).is_err());
    }
}
