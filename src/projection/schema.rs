//! The SQLite schema of `data/maand.db`. Table, column and `cat_*` view
//! names follow the original maand catalog so existing queries keep working.
//! Tables are `WITHOUT ROWID` with natural primary keys: row order is then a
//! function of content alone, so an incrementally updated projection and a
//! fresh rebuild dump identically.

/// Schema version recorded in `schema_version`; a projection of another
/// version is rebuilt. 2: the original's hash meaning and the `rollout`
/// column of `cat_deployments`; 3: peer sets (`peer_set`, `peer_member`, the
/// `kv_derived` view) and `cat_kv` showing derived keys.
pub const SCHEMA_VERSION: i64 = 3;

/// DDL for every table and view, in creation order.
pub const DDL: &[&str] = &[
    "CREATE TABLE maand_projection (id INTEGER PRIMARY KEY CHECK (id = 1), journal_id TEXT NOT NULL, seq INT NOT NULL, format INT NOT NULL)",
    "CREATE TABLE schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
    "CREATE TABLE bucket (bucket_id TEXT PRIMARY KEY, update_seq INT) WITHOUT ROWID",
    "CREATE TABLE worker (worker_id TEXT, worker_ip TEXT PRIMARY KEY, available_memory_mb TEXT, available_cpu_mhz TEXT, position INT) WITHOUT ROWID",
    "CREATE TABLE worker_labels (worker_id TEXT, label TEXT, PRIMARY KEY (worker_id, label)) WITHOUT ROWID",
    "CREATE TABLE worker_tags (worker_id TEXT, key TEXT, value TEXT, PRIMARY KEY (worker_id, key)) WITHOUT ROWID",
    "CREATE TABLE allocations (alloc_id TEXT, worker_ip TEXT, job TEXT, disabled INT, removed INT, deployment_seq INT, new_version TEXT, PRIMARY KEY (worker_ip, job)) WITHOUT ROWID",
    "CREATE TABLE job (job_id TEXT, name TEXT PRIMARY KEY, version TEXT, min_memory_mb TEXT, max_memory_mb TEXT, current_memory_mb TEXT, \
     current_memory_source TEXT NOT NULL DEFAULT 'manifest', min_cpu_mhz TEXT, max_cpu_mhz TEXT, current_cpu_mhz TEXT, \
     current_cpu_source TEXT NOT NULL DEFAULT 'manifest', max_concurrent_upgrades INT NOT NULL DEFAULT 1, \
     max_concurrent_starts INT NOT NULL DEFAULT 0, restart_policy TEXT NOT NULL DEFAULT 'always', \
     restart_globs TEXT NOT NULL DEFAULT '[]', health_check TEXT) WITHOUT ROWID",
    "CREATE TABLE job_selectors (job_id TEXT, selector TEXT, PRIMARY KEY (job_id, selector)) WITHOUT ROWID",
    "CREATE TABLE job_ports (job_id TEXT, name TEXT, port INT, PRIMARY KEY (job_id, name)) WITHOUT ROWID",
    "CREATE TABLE job_certs (job_id TEXT, name TEXT, pkcs8 INT, one INT, subject TEXT, PRIMARY KEY (job_id, name)) WITHOUT ROWID",
    "CREATE TABLE job_files (job_id TEXT, path TEXT, content BLOB, isdir BOOL, PRIMARY KEY (job_id, path)) WITHOUT ROWID",
    "CREATE TABLE job_commands (job_id TEXT, job TEXT, name TEXT, executed_on TEXT, demand_job TEXT, demand_command TEXT, demand_config TEXT, \
     PRIMARY KEY (job, name, executed_on)) WITHOUT ROWID",
    "CREATE TABLE key_value (key TEXT, value TEXT, namespace TEXT, version INT, ttl TEXT, created_date TEXT, deleted INT, \
     PRIMARY KEY (namespace, key, version)) WITHOUT ROWID",
    "CREATE TABLE hash (namespace TEXT, key TEXT, current_hash TEXT, previous_hash TEXT, current_files TEXT, previous_files TEXT, \
     current_version TEXT, PRIMARY KEY (namespace, key)) WITHOUT ROWID",
    "CREATE VIEW cat_workers (worker_id, worker_ip, available_memory_mb, available_cpu_mhz, position, labels, zone) AS \
     SELECT w.worker_id, w.worker_ip, w.available_memory_mb, w.available_cpu_mhz, w.position, \
     (SELECT group_concat(label) FROM (SELECT label FROM worker_labels WHERE worker_id = w.worker_id ORDER BY label)), \
     (SELECT wt.value FROM worker_tags wt WHERE wt.worker_id = w.worker_id AND wt.key = 'zone') \
     FROM worker w ORDER BY position",
    "CREATE VIEW cat_jobs (job_id, name, version, disabled, deployment_seq, selectors, current_memory_mb, current_memory_source, current_cpu_mhz, current_cpu_source) AS \
     SELECT j.job_id, j.name, j.version, \
     (CASE WHEN (SELECT COUNT(1) FROM allocations a WHERE a.job = j.name AND a.disabled = 0) > 0 THEN 0 ELSE 1 END), \
     ifnull((SELECT max(deployment_seq) FROM allocations a WHERE a.job = j.name), 0) AS deployment_seq, \
     ifnull((SELECT group_concat(selector) FROM (SELECT selector FROM job_selectors s WHERE s.job_id = j.job_id ORDER BY selector)), ''), \
     j.current_memory_mb, j.current_memory_source, j.current_cpu_mhz, j.current_cpu_source \
     FROM job j ORDER BY deployment_seq, j.name",
    "CREATE VIEW cat_allocations (alloc_id, worker_ip, job, disabled, removed, new_version, zone) AS \
     SELECT a.alloc_id, a.worker_ip, a.job, a.disabled, a.removed, a.new_version, \
     (SELECT wt.value FROM worker_tags wt JOIN worker w ON w.worker_id = wt.worker_id WHERE w.worker_ip = a.worker_ip AND wt.key = 'zone') \
     FROM allocations a ORDER BY a.job, a.worker_ip",
    "CREATE VIEW cat_job_commands (job, command_name, executed_on, demand_job, demand_command, demand_config) AS \
     SELECT job, name, executed_on, demand_job, demand_command, demand_config FROM job_commands ORDER BY job, name",
    // Peer sets (see maand_core::state::kv): each member's `peer_workers`
    // (job scope) or `<label>_peers` (label scope) is derived at query time
    // from these two tables by the `kv_derived` view, never stored per member.
    "CREATE TABLE peer_set (scope_kind TEXT, scope_name TEXT, version INT, created_date TEXT, \
     PRIMARY KEY (scope_kind, scope_name)) WITHOUT ROWID",
    "CREATE TABLE peer_member (scope_kind TEXT, scope_name TEXT, position INT, worker_ip TEXT, \
     PRIMARY KEY (scope_kind, scope_name, position)) WITHOUT ROWID",
    "CREATE VIEW kv_derived (namespace, key, value, version, ttl, created_date, deleted) AS \
     SELECT (CASE m.scope_kind WHEN 'job' THEN 'maand/job/' || m.scope_name || '/worker/' || m.worker_ip ELSE 'maand/worker/' || m.worker_ip END), \
     (CASE m.scope_kind WHEN 'job' THEN 'peer_workers' ELSE m.scope_name || '_peers' END), \
     ifnull((SELECT group_concat(o.worker_ip, ',') FROM (SELECT worker_ip FROM peer_member p \
       WHERE p.scope_kind = m.scope_kind AND p.scope_name = m.scope_name AND p.worker_ip != m.worker_ip ORDER BY p.position) o), ''), \
     s.version, '0', s.created_date, 0 \
     FROM peer_member m JOIN peer_set s ON s.scope_kind = m.scope_kind AND s.scope_name = m.scope_name",
    "CREATE VIEW cat_kv (namespace, key, value, version, ttl, created_date, deleted) AS \
     SELECT namespace, key, \
     (CASE WHEN value LIKE 'enc:v1:%' THEN '[encrypted]' WHEN length(value) > 50 THEN substr(value, 1, 50) || '...' ELSE value END), \
     version, ttl, created_date, deleted FROM ( \
     SELECT kv.namespace, kv.key, kv.value, kv.version, kv.ttl, kv.created_date, kv.deleted \
     FROM key_value kv WHERE kv.version = (SELECT max(version) FROM key_value l WHERE l.namespace = kv.namespace AND l.key = kv.key) \
     UNION ALL SELECT * FROM kv_derived) \
     ORDER BY namespace, key",
    // `rollout` is `state::rollout_status` in SQL (the original computed it
    // in `cat deployments`; a column lets queries filter on it).
    "CREATE VIEW cat_deployments (alloc_id, worker_ip, job, disabled, removed, current_hash, previous_hash, current_version, new_version, rollout) AS \
     SELECT a.alloc_id, a.worker_ip, a.job, a.disabled, a.removed, ifnull(h.current_hash, ''), ifnull(h.previous_hash, ''), \
     ifnull(h.current_version, ''), ifnull(a.new_version, ''), \
     CASE WHEN a.removed = 1 THEN 'removed' \
     WHEN a.disabled = 1 THEN (CASE WHEN (ifnull(h.previous_hash, '') != '' AND h.previous_hash != ifnull(h.current_hash, '')) \
          OR ifnull(nullif(h.current_version, ''), '0.0.0') != ifnull(nullif(a.new_version, ''), '0.0.0') \
          THEN 'disabled_restart' ELSE 'disabled' END) \
     WHEN h.previous_hash = '__maand_health_failed__' THEN 'health_failed' \
     WHEN ifnull(h.previous_hash, '') = '' THEN 'new' \
     WHEN h.previous_hash != ifnull(h.current_hash, '') \
          OR ifnull(nullif(h.current_version, ''), '0.0.0') != ifnull(nullif(a.new_version, ''), '0.0.0') THEN 'restart' \
     ELSE 'promoted' END \
     FROM allocations a LEFT JOIN hash h ON h.namespace = (a.job || '_allocation') AND h.key = a.alloc_id \
     ORDER BY a.job, a.worker_ip",
];
