//! Helper modules staged next to every hook script, embedded in the binary.

/// `maand.py`: Python helpers (standard library only).
pub const MAAND_PY: &str = include_str!("assets/maand.py");

/// `maand.ts`: Bun helpers.
pub const MAAND_TS: &str = include_str!("assets/maand.ts");
