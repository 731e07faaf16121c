//! Writes the golden file of every record exemplar that has none yet
//! (`record/tests/golden/<name>.hex`). It never overwrites an existing
//! file: golden bytes are history. Run it when you add a record variant:
//! `cargo run -p maand-record --example write_missing_goldens`.

#[path = "../tests/exemplars.rs"]
mod exemplars;

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut written = 0;
    for (name, bytes) in exemplars::all_goldens() {
        let path = dir.join(format!("{name}.hex"));
        if path.exists() {
            continue;
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, hex::encode(&bytes) + "\n").unwrap();
        println!("wrote {}", path.display());
        written += 1;
    }
    println!("{written} new golden file(s); existing ones were left as they are");
}
