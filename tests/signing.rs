//! Signed history: with `signing_key`, each session's commit carries an
//! OpenSSH signature over the chain head; `maand-journal verify
//! --allowed-signers` names who signed what, and real `ssh-keygen -Y
//! verify` accepts the same signature over the documented message.

mod common;
use common::*;
use maand_record::v2::EventV2;
use maand_record::{AnyBody, decode_event, encode_event};
use redb::{ReadableTable, TableDefinition};
use std::path::Path;
use std::process::{Command, Stdio};

const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");

fn keygen(path: &Path, kind: &str, extra: &[&str]) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-C", "test", "-f"])
        .arg(path)
        .args(extra)
        .status()
        .expect("ssh-keygen (apt-get install openssh-client)");
    assert!(st.success());
}

/// A bucket whose sessions are signed by an ed25519 key file from session 2
/// on: session 2 a build, session 3 a KV session.
fn signed_bucket() -> tempfile::TempDir {
    let dir = fresh_bucket();
    let p = dir.path();
    keygen(&p.join("secrets/sign.key"), "ed25519", &["-N", ""]);
    let conf = std::fs::read_to_string(p.join("maand.conf")).unwrap();
    std::fs::write(p.join("maand.conf"), format!("{conf}signing_key = \"sign.key\"\n")).unwrap();
    write(p, "workspace/workers.json", r#"[{"host": "10.0.0.1"}]"#);
    ok(&maand(p, &["build"]));
    write_session(p, "vars/job/api", 3, "a");
    let pubkey = std::fs::read_to_string(p.join("secrets/sign.key.pub")).unwrap();
    std::fs::write(p.join("allowed_signers"), format!("ops@example.com {pubkey}")).unwrap();
    dir
}

/// Every `SessionSigned` in the journal: (session, seq, head hex, armored signature).
fn signatures(p: &Path) -> Vec<(u64, u64, String, String)> {
    stdout(&journal(p, &["export", "--jsonl"]))
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let s = v["event"].get("SessionSigned")?.clone();
            Some((
                v["session_id"].as_u64().unwrap(),
                s["seq"].as_u64().unwrap(),
                s["head"].as_str().unwrap().to_string(),
                s["signature"].as_str().unwrap().to_string(),
            ))
        })
        .collect()
}

/// `ssh-keygen -Y verify` of `sig` over the message docs/journal.md
/// documents, rebuilt here from the exported record (not by maand).
fn ssh_keygen_verify(p: &Path, identity: &str, session: u64, seq: u64, head: &str, sig: &str) -> (bool, String) {
    let sig_file = p.join("tmp/head.sig");
    std::fs::write(&sig_file, sig).unwrap();
    let message = format!("maand-journal signed head v1\nsession {session}\nseq {seq}\nhead {head}\n");
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-n", "maand-journal", "-I", identity, "-f"])
        .arg(p.join("allowed_signers"))
        .arg("-s")
        .arg(&sig_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(message.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    (o.status.success(), format!("{}{}", stdout(&o), stderr(&o)))
}

#[test]
fn an_ed25519_signed_session_verifies_here_and_with_ssh_keygen() {
    let dir = signed_bucket();
    let p = dir.path();
    let out = ok(&journal(p, &["verify", "--allowed-signers", "allowed_signers"]));
    assert!(out.contains("committed sessions from 2 on must be signed"), "{out}");
    assert!(out.contains("session 1     init             unsigned"), "{out}");
    for s in [2, 3] {
        let line = out.lines().find(|l| l.contains(&format!("session {s} "))).unwrap();
        assert!(line.contains("signed by ops@example.com (ED25519 SHA256:"), "{out}");
    }
    let sigs = signatures(p);
    assert_eq!(sigs.iter().map(|s| s.0).collect::<Vec<_>>(), [2, 3], "one signature per committed session");
    let shown = ok(&journal(p, &["show", "3"]));
    let kinds: Vec<&str> = shown.lines().map(|l| l.split_whitespace().nth(3).unwrap_or("")).collect();
    assert_eq!(kinds[kinds.len() - 2..], ["session_signed", "session_committed"], "{shown}");
    for (session, seq, head, sig) in &sigs {
        let (good, said) = ssh_keygen_verify(p, "ops@example.com", *session, *seq, head, sig);
        assert!(good && said.contains("Good \"maand-journal\" signature for ops@example.com"), "{said}");
        // The head is what is signed: another head is refused by ssh-keygen too.
        // (Change the last hex digit; a fixed "0" equals it one time in 16.)
        let last = if head.ends_with('0') { '1' } else { '0' };
        let other = format!("{}{last}", &head[..63]);
        assert_ne!(&other, head);
        let (good, said) = ssh_keygen_verify(p, "ops@example.com", *session, *seq, &other, sig);
        assert!(!good, "{said}");
    }
    // The signed head is the hash of the event before the signature.
    let (_, seq, head, _) = &sigs[1];
    let at: serde_json::Value =
        serde_json::from_str(&ok(&journal(p, &["head", "--at", &seq.to_string(), "--json"]))).unwrap();
    assert_eq!(at["hash"], head.as_str());
    let last = ok(&journal(p, &["head"]));
    assert_eq!(last.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap(), event_count(p));
}

/// Rewrite the journal as someone with write access could: change event
/// `seq` with `f` and re-hash it and everything after it, so the chain is
/// intact again.
fn forge(p: &Path, seq: u64, f: impl Fn(&mut EventV2)) {
    let db = redb::Database::create(p.join("data/journal.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(EVENTS).unwrap();
        let last = t.last().unwrap().unwrap().0.value();
        let mut prev = {
            let before = t.get(seq - 1).unwrap().unwrap().value().to_vec();
            decode_event(&before).unwrap().1
        };
        for s in seq..=last {
            let raw = t.get(s).unwrap().unwrap().value().to_vec();
            let AnyBody::V2(mut body) = decode_event(&raw).unwrap().0 else { panic!("format 2 expected") };
            if s == seq {
                f(&mut body.event);
            }
            body.prev_hash = prev;
            let (bytes, hash) = encode_event(&body).unwrap();
            t.insert(s, bytes.as_slice()).unwrap();
            prev = hash;
        }
    }
    txn.commit().unwrap();
}

/// Seq of the first `kv_put` of `session`.
fn first_put(p: &Path, session: u64) -> u64 {
    stdout(&journal(p, &["export", "--jsonl"]))
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["session_id"] == session && v["event"].get("KvPut").is_some())
        .map(|v| v["seq"].as_u64().unwrap())
        .unwrap()
}

#[test]
fn a_rehashed_forgery_of_an_earlier_event_fails_signature_verification() {
    let dir = signed_bucket();
    let p = dir.path();
    let seq = first_put(p, 3);
    forge(p, seq, |e| {
        if let EventV2::KvPut { value, .. } = e {
            *value = maand_record::v2::KvValueV2::Plain("forged".into());
        }
    });
    ok(&journal(p, &["rebuild-db"]));
    // The chain alone cannot tell: it was re-hashed.
    let plain = ok(&journal(p, &["verify"]));
    assert!(plain.starts_with("ok:"), "{plain}");
    let o = journal(p, &["verify", "--allowed-signers", "allowed_signers"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("BAD SIGNATURE: signed head"), "{}", stdout(&o));
    assert!(stdout(&o).contains("an earlier event was changed"), "{}", stdout(&o));
    assert!(stderr(&o).contains("session signature(s) bad or missing: session 3"), "{}", stderr(&o));

    // A forger who also rewrites the signed head cannot make the signature match it.
    let (_, signed_seq, _, _) = signatures(p)[1].clone();
    let before: serde_json::Value =
        serde_json::from_str(&ok(&journal(p, &["head", "--at", &signed_seq.to_string(), "--json"]))).unwrap();
    let new_head: [u8; 32] = hex::decode(before["hash"].as_str().unwrap()).unwrap().try_into().unwrap();
    forge(p, signed_seq + 1, |e| {
        if let EventV2::SessionSigned { head, .. } = e {
            *head = new_head;
        }
    });
    let o = journal(p, &["verify", "--allowed-signers", "allowed_signers"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("BAD SIGNATURE: the signature does not match the signed head"), "{}", stdout(&o));
}

#[test]
fn unsigned_sessions_are_reported_and_required_after_signing_began() {
    let dir = signed_bucket();
    let p = dir.path();
    // Signing switched off: the next commit is unsigned, and that fails.
    let conf = std::fs::read_to_string(p.join("maand.conf")).unwrap().replace("signing_key = \"sign.key\"\n", "");
    std::fs::write(p.join("maand.conf"), conf).unwrap();
    write_session(p, "vars/job/web", 1, "b");
    let o = journal(p, &["verify", "--allowed-signers", "allowed_signers"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("session 4     test             UNSIGNED (a signature is required)"), "{}", stdout(&o));
    assert!(stdout(&o).contains("session 1     init             unsigned\n"), "{}", stdout(&o));
    // Requirements are the auditor's: from session 5 on, session 4 may be unsigned…
    ok(&journal(p, &["verify", "--allowed-signers", "allowed_signers", "--require-signed-from", "5"]));
    // …and from 1 on, init's unsigned session fails too.
    let o = journal(p, &["verify", "--allowed-signers", "allowed_signers", "--require-signed-from", "1"]);
    assert!(stdout(&o).contains("session 1     init             UNSIGNED"), "{}", stdout(&o));
    // Without --allowed-signers, verify checks the chain only.
    ok(&journal(p, &["verify"]));
}

#[test]
fn a_key_missing_from_the_allowed_signers_is_refused() {
    let dir = signed_bucket();
    let p = dir.path();
    keygen(&p.join("tmp/other"), "ed25519", &["-N", ""]);
    let other = std::fs::read_to_string(p.join("tmp/other.pub")).unwrap();
    let pubkey = std::fs::read_to_string(p.join("secrets/sign.key.pub")).unwrap();
    std::fs::write(p.join("allowed_signers"), format!("eve@example.com {other}")).unwrap();
    let o = journal(p, &["verify", "--allowed-signers", "allowed_signers"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("which is not in the allowed signers"), "{}", stdout(&o));
    // Allowed, but only for another namespace.
    std::fs::write(p.join("allowed_signers"), format!("ops@example.com namespaces=\"git\" {pubkey}")).unwrap();
    let o = journal(p, &["verify", "--allowed-signers", "allowed_signers"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("but not for namespace maand-journal"), "{}", stdout(&o));
}

#[test]
fn agent_keys_sign_and_ssh_keygen_agrees() {
    let dir = fresh_bucket();
    let p = dir.path();
    let sock = p.join("tmp/agent.sock");
    let mut agent = Command::new("ssh-agent").arg("-D").arg("-a").arg(&sock).stdout(Stdio::null()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !sock.exists() {
        assert!(std::time::Instant::now() < deadline, "ssh-agent did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    keygen(&p.join("tmp/ec"), "ecdsa", &["-N", ""]);
    keygen(&p.join("tmp/rsa"), "rsa", &["-N", "", "-b", "2048"]);
    for k in ["tmp/ec", "tmp/rsa"] {
        let st = Command::new("ssh-add").arg("-q").arg(p.join(k)).env("SSH_AUTH_SOCK", &sock).status().unwrap();
        assert!(st.success());
    }
    let run = |args: &[&str]| {
        Command::new(maand_bin()).args(args).current_dir(p).env("SSH_AUTH_SOCK", &sock).output().unwrap()
    };
    let conf = std::fs::read_to_string(p.join("maand.conf")).unwrap();
    std::fs::write(p.join("maand.conf"), format!("{conf}signing_key = \"agent\"\n")).unwrap();
    // Two keys in the agent: the operator must name one.
    let o = run(&["build"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("the ssh-agent holds 2 keys; name one as \"agent:SHA256:…\""), "{}", stderr(&o));
    let mut allowed = String::new();
    for (i, k) in ["tmp/ec.pub", "tmp/rsa.pub"].iter().enumerate() {
        let fp = Command::new("ssh-keygen").args(["-l", "-E", "sha256", "-f"]).arg(p.join(k)).output().unwrap();
        let fp = stdout(&fp).split_whitespace().nth(1).unwrap().to_string();
        std::fs::write(p.join("maand.conf"), format!("{conf}signing_key = \"agent:{fp}\"\n")).unwrap();
        ok(&run(&["build"]));
        allowed.push_str(&format!("key{i}@example.com {}", std::fs::read_to_string(p.join(k)).unwrap()));
    }
    std::fs::write(p.join("allowed_signers"), &allowed).unwrap();
    let out = ok(&journal(p, &["verify", "--allowed-signers", "allowed_signers"]));
    assert!(out.contains("signed by key0@example.com (ECDSA SHA256:"), "{out}");
    assert!(out.contains("signed by key1@example.com (RSA SHA256:"), "{out}");
    for (i, (session, seq, head, sig)) in signatures(p).iter().enumerate() {
        let (good, said) = ssh_keygen_verify(p, &format!("key{i}@example.com"), *session, *seq, head, sig);
        assert!(good, "{said}");
    }
    // The agent gone: the command fails before doing anything, naming the setting.
    let _ = agent.kill();
    let _ = agent.wait();
    let o = run(&["build"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("maand.conf: key `signing_key`: cannot reach the ssh-agent"), "{}", stderr(&o));
}

#[test]
fn bad_signing_keys_and_allowed_signers_are_input_errors() {
    let dir = fresh_bucket();
    let p = dir.path();
    let conf = std::fs::read_to_string(p.join("maand.conf")).unwrap();
    let set = |v: &str| std::fs::write(p.join("maand.conf"), format!("{conf}signing_key = \"{v}\"\n")).unwrap();
    let before = event_count(p);
    set("missing.key");
    let o = maand(p, &["build"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("maand.conf: key `signing_key`: secrets/missing.key: cannot read it"),
        "{}",
        stderr(&o)
    );
    keygen(&p.join("secrets/locked.key"), "ed25519", &["-N", "passphrase"]);
    set("locked.key");
    let o = maand(p, &["build"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("passphrase-protected"), "{}", stderr(&o));
    keygen(&p.join("secrets/ec.key"), "ecdsa", &["-N", ""]);
    set("ec.key");
    let o = maand(p, &["build"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("sign only through the agent"), "{}", stderr(&o));
    std::fs::write(p.join("secrets/junk.key"), "not a key").unwrap();
    set("junk.key");
    let o = maand(p, &["build"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not an OpenSSH private key"), "{}", stderr(&o));
    set("agent");
    let o = Command::new(maand_bin()).arg("build").current_dir(p).env_remove("SSH_AUTH_SOCK").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("SSH_AUTH_SOCK is not set"), "{}", stderr(&o));
    assert_eq!(event_count(p), before, "a bad signing key fails before any session opens");

    std::fs::write(p.join("maand.conf"), &conf).unwrap();
    std::fs::write(p.join("allowed"), "ops@x ssh-ed25519 AAAA!!!\n").unwrap();
    let o = journal(p, &["verify", "--allowed-signers", "allowed"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("allowed: line 1: not a public key"), "{}", stderr(&o));
    let o = journal(p, &["verify", "--allowed-signers", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--allowed-signers nope: cannot read it"), "{}", stderr(&o));
    let o = journal(p, &["head", "--at", "99999"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("the journal has no event 99999"), "{}", stderr(&o));
}
