//! Output of listings: an aligned text table for people, `--json` (an array
//! of objects) for scripts.

use serde_json::Value;

/// A listing: column names and rows of JSON values.
pub struct Table {
    columns: Vec<&'static str>,
    rows: Vec<Vec<Value>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(columns: &[&'static str]) -> Self {
        Table { columns: columns.to_vec(), rows: Vec::new() }
    }

    /// Add a row (one value per column).
    pub fn row(&mut self, values: Vec<Value>) {
        debug_assert_eq!(values.len(), self.columns.len());
        self.rows.push(values);
    }

    /// Print as a table, or as JSON when `json`.
    pub fn print(&self, json: bool) {
        if json {
            let objects: Vec<Value> = self
                .rows
                .iter()
                .map(|r| Value::Object(self.columns.iter().map(|c| c.to_string()).zip(r.iter().cloned()).collect()))
                .collect();
            println!("{}", serde_json::to_string_pretty(&objects).unwrap_or_default());
            return;
        }
        let cells: Vec<Vec<String>> = self.rows.iter().map(|r| r.iter().map(text).collect()).collect();
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.len()).collect();
        for r in &cells {
            for (i, c) in r.iter().enumerate() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let line = |vals: Vec<&str>| {
            let mut s = String::new();
            for (i, v) in vals.iter().enumerate() {
                if i + 1 == vals.len() {
                    s.push_str(v);
                } else {
                    s.push_str(&format!("{v:<w$}  ", w = widths[i]));
                }
            }
            println!("{}", s.trim_end());
        };
        line(self.columns.iter().map(|c| c.to_uppercase()).collect::<Vec<_>>().iter().map(String::as_str).collect());
        for r in &cells {
            line(r.iter().map(String::as_str).collect());
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.replace('\n', "\\n"),
        other => other.to_string(),
    }
}
