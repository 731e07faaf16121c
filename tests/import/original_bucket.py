"""Write a bucket as the original (Go) maand leaves it: data/maand.db with the
original's DDL (data/schema.go, baseTableDDL + schema_version 1), secrets/kv.key
and a secret sealed the original's way (kv/encrypt.go: "enc:v1:" +
base64(nonce || AES-256-GCM ciphertext), raw 32-byte key, no associated data).

usage: original_bucket.py <bucket dir> <json spec>
spec: {"workers": [ip, ...], "job": name, "port": n, "update_seq": n,
       "hashes": {ip: hash}, "version": v, "secret": plaintext, "now": unix seconds}
"""
import base64, datetime, hashlib, ipaddress, json, os, sqlite3, sys, uuid
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

DDL = [
    "CREATE TABLE IF NOT EXISTS bucket (bucket_id TEXT, update_seq INT)",
    """CREATE TABLE IF NOT EXISTS worker (worker_id TEXT, worker_ip TEXT, available_memory_mb TEXT,
        available_cpu_mhz TEXT, position INT, PRIMARY KEY(worker_ip))""",
    "CREATE TABLE IF NOT EXISTS worker_labels (worker_id TEXT, label TEXT)",
    "CREATE TABLE IF NOT EXISTS worker_tags (worker_id TEXT, key TEXT, value TEXT)",
    """CREATE TABLE IF NOT EXISTS allocations (alloc_id TEXT, worker_ip TEXT, job TEXT, disabled INT,
        removed INT, deployment_seq INT, new_version TEXT, PRIMARY KEY(worker_ip, job))""",
    """CREATE TABLE IF NOT EXISTS job (job_id TEXT, name TEXT, version TEXT, min_memory_mb TEXT,
        max_memory_mb TEXT, current_memory_mb TEXT, current_memory_source TEXT NOT NULL DEFAULT 'manifest',
        min_cpu_mhz TEXT, max_cpu_mhz TEXT, current_cpu_mhz TEXT, current_cpu_source TEXT NOT NULL DEFAULT 'manifest',
        max_concurrent_upgrades INT NOT NULL DEFAULT 1, max_concurrent_starts INT NOT NULL DEFAULT 0,
        restart_policy TEXT NOT NULL DEFAULT 'always', restart_globs TEXT NOT NULL DEFAULT '[]',
        health_check TEXT, PRIMARY KEY(name))""",
    "CREATE TABLE IF NOT EXISTS job_selectors (job_id TEXT, selector TEXT)",
    "CREATE TABLE IF NOT EXISTS job_ports (job_id TEXT, name TEXT, port INT)",
    "CREATE TABLE IF NOT EXISTS job_certs (job_id TEXT, name TEXT, pkcs8 INT, one INT, subject TEXT)",
    "CREATE TABLE IF NOT EXISTS job_files (job_id TEXT, path TEXT, content BLOB, isdir BOOL)",
    """CREATE TABLE IF NOT EXISTS job_commands (job_id TEXT, job TEXT, name TEXT, executed_on TEXT,
        demand_job TEXT, demand_command TEXT, demand_config TEXT)""",
    """CREATE TABLE IF NOT EXISTS key_value (key TEXT, value TEXT, namespace TEXT, version INT, ttl TEXT,
        created_date TEXT, deleted INT)""",
    """CREATE TABLE IF NOT EXISTS hash (namespace TEXT, key TEXT, current_hash TEXT, previous_hash TEXT,
        current_files TEXT, previous_files TEXT, current_version TEXT, PRIMARY KEY(namespace, key))""",
    "CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
]


def stable_id(value):
    """workspace/ids.go StableJobID: MD5, version 3 bits."""
    h = bytearray(hashlib.md5(value.encode()).digest())
    h[6] = (h[6] & 0x0F) | 0x30
    h[8] = (h[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(h)))


def seal(key, plaintext):
    nonce = os.urandom(12)
    return "enc:v1:" + base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), None)).decode()


def pem_key(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def certificate(subject_cn, issuer_cn, public_key, signer, ca, sans):
    """Like the original's generateCA / leaf issuing (build/build_certs.go)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650 if ca else 60))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(i)) for i in sans]), False)
    return b.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def certs(root, spec, db, job_id):
    """The bucket CA (secrets/ca.crt, ca.key) and one `tls` leaf per worker in
    KV maand/job/<job>/worker/<ip> certs/tls.crt, certs/tls.key (plaintext,
    as the original keeps them)."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bid = spec["bucket_id"]
    with open(os.path.join(root, "secrets", "ca.crt"), "w") as f:
        f.write(certificate(bid, bid, ca_key.public_key(), ca_key, True, []))
    with open(os.path.join(root, "secrets", "ca.key"), "w") as f:
        f.write(pem_key(ca_key))
    db.execute("INSERT INTO job_certs VALUES (?, 'tls', 0, 0, ?)", (job_id, json.dumps({"common_name": "api.internal"})))
    rows = []
    for ip in spec["workers"]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        crt = certificate("api.internal", bid, key.public_key(), ca_key, False, ["127.0.0.1", ip])
        ns = f"maand/job/{spec['job']}/worker/{ip}"
        rows += [(ns, "certs/tls.crt", crt), (ns, "certs/tls.key", pem_key(key))]
    return rows


def main():
    root, spec = sys.argv[1], json.loads(sys.argv[2])
    for d in ["data", "secrets", "workspace/jobs", "logs", "tmp"]:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    key = os.urandom(32)
    # 0600, as the original's kv.EnsureEncryptionKey writes it.
    with open(os.open(os.path.join(root, "secrets", "kv.key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(key)
    db = sqlite3.connect(os.path.join(root, "data", "maand.db"))
    for s in DDL:
        db.execute(s)
    db.execute("INSERT INTO schema_version VALUES (1, 1)")
    db.execute("INSERT INTO bucket VALUES (?, ?)", (spec["bucket_id"], spec["update_seq"]))
    job, version, now = spec["job"], spec["version"], spec["now"]
    job_id = stable_id(job)
    for pos, ip in enumerate(spec["workers"]):
        wid = str(uuid.uuid4())  # the original's worker ids are random
        db.execute("INSERT INTO worker VALUES (?, ?, '0', '0', ?)", (wid, ip, pos))
        db.execute("INSERT INTO worker_labels VALUES (?, 'worker')", (wid,))
        alloc = stable_id(f"{job}|{ip}")
        db.execute("INSERT INTO allocations VALUES (?, ?, ?, 0, 0, 0, ?)", (alloc, ip, job, version))
        if ip in spec["hashes"]:
            db.execute(
                "INSERT INTO hash VALUES (?, ?, ?, '', '{}', '{}', ?)",
                (f"{job}_allocation", alloc, spec["hashes"][ip], version),
            )
    db.execute(
        "INSERT INTO job (job_id, name, version, min_memory_mb, max_memory_mb, current_memory_mb, "
        "min_cpu_mhz, max_cpu_mhz, current_cpu_mhz) VALUES (?, ?, ?, '0', '0', '0', '0', '0', '0')",
        (job_id, job, version),
    )
    db.execute("INSERT INTO job_ports VALUES (?, ?, ?)", (job_id, f"{job}_port", spec["port"]))
    kv = [
        # (namespace, key, value, version, ttl, created, deleted)
        (f"vars/job/{job}", "mode", "blue", 1, "0", now - 300, 0),
        (f"vars/job/{job}", "mode", "green", 2, "0", now - 200, 0),
        (f"vars/job/{job}", "lease", "held", 1, "86400", now - 100, 0),
        # The original's gc pruned versions 1-3 of this key.
        (f"vars/job/{job}", "pruned", "v4", 4, "0", now - 90, 0),
        (f"vars/job/{job}", "pruned", "v5", 5, "0", now - 80, 0),
        (f"vars/job/{job}", "gone", "x", 1, "0", now - 300, 0),
        (f"vars/job/{job}", "gone", "x", 2, "0", now - 50, 1),
        (f"secrets/job/{job}", "token", seal(key, spec["secret"]), 1, "0", now - 10, 0),
        ("maand/bucket", f"{job}_port", str(spec["port"]), 1, "0", now - 400, 0),
        ("maand/worker", "worker_label_id", stable_id("worker"), 1, "0", now - 400, 0),
    ]
    if spec.get("certs"):
        kv += [(ns, k, v, 1, "0", now - 400, 0) for ns, k, v in certs(root, spec, db, job_id)]
    for ns, k, v, ver, ttl, created, deleted in kv:
        db.execute("INSERT INTO key_value VALUES (?, ?, ?, ?, ?, ?, ?)", (k, v, ns, ver, ttl, str(created), deleted))
    db.commit()
    db.close()
    # What the original's `maand init` writes (go-toml): ssh_port = 0.
    with open(os.path.join(root, "maand.conf"), "w") as f:
        f.write("use_sudo = true\nssh_user = 'agent'\nssh_key = 'worker.key'\nssh_port = 0\ncerts_ttl = 0\ncerts_renewal_buffer = 0\n")


main()
