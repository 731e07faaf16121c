//! Completions and man pages are generated from the clap definitions of
//! both binaries, load in the real shells' terms, and render with `man`.

mod common;
use common::*;
use std::process::Command;

fn bin_out(bin: &std::path::Path, args: &[&str]) -> String {
    let o = Command::new(bin).args(args).output().unwrap();
    assert!(o.status.success(), "{bin:?} {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn completions_generate_for_every_shell_and_name_the_commands() {
    for (bin, name, sub) in [(maand_bin(), "maand", "deploy"), (journal_bin(), "maand-journal", "verify")] {
        for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
            let script = bin_out(&bin, &["completions", shell]);
            assert!(script.contains(name) && script.contains(sub), "{name} {shell}: {script:.300}");
        }
        let o = Command::new(&bin).args(["completions", "tcsh"]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "an unknown shell is bad usage");
    }
}

/// Run bash's completion function as bash would on `words` (the cursor at
/// the end of the last word) and return the candidates.
fn bash_complete(script: &str, function: &str, words: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("completion.bash");
    std::fs::write(&path, script).unwrap();
    let line = words.join(" ");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT={}; {function} '{}' '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display(),
        quoted.join(" "),
        words.len() - 1,
        line.len(),
        words[0],
        words[words.len() - 1],
        words[words.len().saturating_sub(2)],
    );
    let o = Command::new("bash").args(["-c", &program]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
}

#[test]
fn bash_completes_maand_ca_to_cat() {
    let script = bin_out(&maand_bin(), &["completions", "bash"]);
    assert_eq!(bash_complete(&script, "_maand", &["maand", "ca"]), ["cat"]);
    let deps = bash_complete(&script, "_maand", &["maand", "de"]);
    assert_eq!(deps, ["deploy"]);
    let journal = bin_out(&journal_bin(), &["completions", "bash"]);
    assert_eq!(bash_complete(&journal, "_maand__journal", &["maand-journal", "ver"]), ["verify"]);
}

#[test]
fn man_pages_render_with_man() {
    let dir = tempfile::tempdir().unwrap();
    bin_out(&maand_bin(), &["man", "--dir", dir.path().to_str().unwrap()]);
    bin_out(&journal_bin(), &["man", "--dir", dir.path().to_str().unwrap()]);
    for page in ["maand.1", "maand-deploy.1", "maand-cat.1", "maand-journal.1", "maand-journal-verify.1"] {
        let path = dir.path().join(page);
        assert!(path.exists(), "{page} missing");
        let o = Command::new("man").arg("-l").arg(&path).env("MANWIDTH", "80").env("MAN_KEEP_FORMATTING", "0").output();
        let o = o.expect("man(1) is installed by scripts/test.sh");
        assert!(o.status.success(), "{page}: {}", String::from_utf8_lossy(&o.stderr));
        // man overstrikes bold text when not on a terminal: drop "X\x08".
        let raw = String::from_utf8_lossy(&o.stdout);
        let mut text = String::new();
        for c in raw.chars() {
            if c == '\u{8}' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{page}: {text:.400}");
    }
    let main = bin_out(&maand_bin(), &["man"]);
    assert!(main.starts_with(".ie") || main.contains(".TH maand"), "{main:.200}");
    // A file where the directory should be is bad usage, not a panic.
    let file = dir.path().join("maand.1");
    let o = Command::new(maand_bin()).args(["man", "--dir", file.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
}
