//! The SQLite side of the `sqlite` sink: opening the database (WAL, `synchronous` per the
//! fsync policy), the `sessions` and `flow_tables` tables, one table per message kind (or a
//! declared table) with columns made from the fields, and batched idempotent inserts keyed
//! by the record number (`_rec INTEGER PRIMARY KEY`, `INSERT OR IGNORE`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use flow_framework::message::Value;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension};

use super::codec::Record;

/// Tables the sink keeps for itself; a message kind with one of these names is stored in
/// `msg_<kind>`.
pub const RESERVED: [&str; 2] = ["sessions", "flow_tables"];

/// A declared column: name and SQLite type.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Column (and field) name.
    pub name: String,
    /// `INTEGER`, `REAL`, `TEXT` or `BLOB`.
    pub sql_type: &'static str,
}

/// The open database.
pub struct Store {
    conn: Connection,
    table: Option<String>,
    declared: Vec<Column>,
    /// Known columns per table.
    columns: HashMap<String, Vec<String>>,
}

/// `"name"` with embedded quotes doubled.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn sql_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "",
        Value::Bool(_) | Value::I64(_) | Value::U64(_) | Value::Time(_) => "INTEGER",
        Value::F64(_) => "REAL",
        Value::Str(_) => "TEXT",
        Value::Bytes(_) | Value::F32s(_) => "BLOB",
    }
}

/// True when two messages have the same field names in the same order.
fn same_fields(a: &Record, b: &Record) -> bool {
    a.msg.fields.len() == b.msg.fields.len()
        && a.msg
            .fields
            .iter()
            .zip(&b.msg.fields)
            .all(|((x, _), (y, _))| x == y)
}

fn to_sql(v: &Value) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(match v {
        Value::Null => ValueRef::Null,
        Value::Bool(b) => ValueRef::Integer(i64::from(*b)),
        Value::I64(x) | Value::Time(x) => ValueRef::Integer(*x),
        Value::U64(x) => match i64::try_from(*x) {
            Ok(i) => ValueRef::Integer(i),
            Err(_) => ValueRef::Real(*x as f64),
        },
        Value::F64(x) => ValueRef::Real(*x),
        Value::Str(s) => ValueRef::Text(s.as_bytes()),
        Value::Bytes(b) => ValueRef::Blob(b),
        Value::F32s(f) => ValueRef::Blob(bytemuck::cast_slice(f)),
    })
}

impl Store {
    /// Opens or creates the database. `synchronous` is `FULL`, `NORMAL` or `OFF`.
    pub fn open(
        path: &Path,
        synchronous: &str,
        table: Option<String>,
        declared: Vec<Column>,
    ) -> rusqlite::Result<Store> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", synchronous)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS sessions (id INTEGER PRIMARY KEY, start_ns INTEGER NOT NULL, \
             end_ns INTEGER, status TEXT NOT NULL, block TEXT, metadata TEXT, \
             recovered_rows INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE IF NOT EXISTS flow_tables (name TEXT PRIMARY KEY);",
        )?;
        let mut s = Store {
            conn,
            table,
            declared,
            columns: HashMap::new(),
        };
        let names: Vec<String> = s
            .conn
            .prepare("SELECT name FROM flow_tables")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for n in names {
            let cols = s.table_columns(&n)?;
            s.columns.insert(n, cols);
        }
        Ok(s)
    }

    fn table_columns(&self, table: &str) -> rusqlite::Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare(&format!("PRAGMA table_info({})", quote(table)))?;
        let cols = st.query_map([], |r| r.get::<_, String>(1))?.collect();
        cols
    }

    /// The next free record number (one past the highest stored).
    pub fn next_rec(&self) -> rusqlite::Result<u64> {
        let mut next = 0u64;
        for t in self.columns.keys() {
            let max: Option<i64> =
                self.conn
                    .query_row(&format!("SELECT MAX(_rec) FROM {}", quote(t)), [], |r| {
                        r.get(0)
                    })?;
            if let Some(m) = max {
                next = next.max(m as u64 + 1);
            }
        }
        Ok(next)
    }

    /// Opens a session row; returns its id.
    pub fn begin_session(
        &self,
        start_ns: i64,
        block: &str,
        metadata: &str,
    ) -> rusqlite::Result<i64> {
        self.conn.execute(
            "INSERT INTO sessions (start_ns, status, block, metadata) VALUES (?1, 'running', ?2, ?3)",
            params![start_ns, block, metadata],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Closes a session row.
    pub fn end_session(&self, id: i64, end_ns: i64, status: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE sessions SET end_ns = MAX(COALESCE(end_ns, 0), ?2), status = ?3 WHERE id = ?1",
            params![id, end_ns, status],
        )?;
        Ok(())
    }

    /// Marks sessions still `running` (their process died) as `interrupted`.
    pub fn mark_interrupted(&self) -> rusqlite::Result<usize> {
        self.conn.execute(
            "UPDATE sessions SET status = 'interrupted' WHERE status = 'running'",
            [],
        )
    }

    /// Adds `n` to a session's count of rows recovered from the journal.
    pub fn add_recovered(&self, id: i64, n: u64) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE sessions SET recovered_rows = recovered_rows + ?2 WHERE id = ?1",
            params![id, n as i64],
        )?;
        Ok(())
    }

    fn table_for(&self, kind: &str) -> String {
        match &self.table {
            Some(t) => t.clone(),
            None => Self::table_name(kind).into_owned(),
        }
    }

    /// Creates the table or adds missing columns so that `r` fits.
    fn ensure(&mut self, table: &str, r: &Record) -> rusqlite::Result<()> {
        if !self.columns.contains_key(table) {
            let mut cols = vec![
                "_rec INTEGER PRIMARY KEY".to_string(),
                "_session INTEGER NOT NULL".to_string(),
            ];
            if self.declared.is_empty() {
                cols.extend(
                    r.msg
                        .fields
                        .iter()
                        .map(|(n, v)| format!("{} {}", quote(n), sql_type(v))),
                );
            } else {
                cols.extend(
                    self.declared
                        .iter()
                        .map(|c| format!("{} {}", quote(&c.name), c.sql_type)),
                );
            }
            self.conn.execute(
                &format!(
                    "CREATE TABLE IF NOT EXISTS {} ({})",
                    quote(table),
                    cols.join(", ")
                ),
                [],
            )?;
            self.conn.execute(
                "INSERT OR IGNORE INTO flow_tables (name) VALUES (?1)",
                [table],
            )?;
            let known = self.table_columns(table)?;
            self.columns.insert(table.to_string(), known);
        }
        if self.declared.is_empty() {
            let known = self
                .columns
                .get(table)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let missing: Vec<(String, &str)> = r
                .msg
                .fields
                .iter()
                .filter(|(n, _)| !known.iter().any(|k| k == &**n))
                .map(|(n, v)| (n.to_string(), sql_type(v)))
                .collect();
            for (n, ty) in missing {
                self.conn.execute(
                    &format!("ALTER TABLE {} ADD COLUMN {} {ty}", quote(table), quote(&n)),
                    [],
                )?;
                self.columns.entry(table.to_string()).or_default().push(n);
            }
        }
        Ok(())
    }

    /// Inserts records in one transaction (rows already present are skipped); also moves the
    /// sessions' `end_ns` forward. Returns (rows inserted, fields dropped for lack of a column).
    pub fn insert(&mut self, records: &[Record]) -> rusqlite::Result<(u64, u64)> {
        let (mut inserted, mut dropped) = (0u64, 0u64);
        let mut prev: Option<&Record> = None;
        for r in records {
            if prev.is_some_and(|p| p.msg.kind == r.msg.kind && same_fields(p, r)) {
                continue;
            }
            let t = self.table_for(&r.msg.kind);
            self.ensure(&t, r)?;
            prev = Some(r);
        }
        let tx = self.conn.transaction()?;
        {
            let (declared, fixed) = (&self.declared, self.table.as_deref());
            let mut shape: Option<(String, &Record)> = None;
            let mut st = None;
            let mut args: Vec<ToSqlOutput<'_>> = Vec::new();
            for r in records {
                let table = fixed.map_or_else(|| Self::table_name(&r.msg.kind), Cow::Borrowed);
                let same = shape.as_ref().is_some_and(|(t, prev)| {
                    *t == table && (!declared.is_empty() || same_fields(prev, r))
                });
                if !same {
                    let names: Vec<&str> = if declared.is_empty() {
                        r.msg.fields.iter().map(|(n, _)| &**n).collect()
                    } else {
                        declared.iter().map(|c| c.name.as_str()).collect()
                    };
                    let cols: String = names.iter().map(|n| format!(", {}", quote(n))).collect();
                    let marks: String = names.iter().map(|_| ", ?").collect();
                    let sql = format!(
                        "INSERT OR IGNORE INTO {} (_rec, _session{cols}) VALUES (?, ?{marks})",
                        quote(&table)
                    );
                    st = Some(tx.prepare_cached(&sql)?);
                    shape = Some((table.into_owned(), r));
                }
                args.clear();
                args.push(ToSqlOutput::Owned(rusqlite::types::Value::Integer(
                    r.rec as i64,
                )));
                args.push(ToSqlOutput::Owned(rusqlite::types::Value::Integer(
                    r.session,
                )));
                if declared.is_empty() {
                    args.extend(r.msg.fields.iter().map(|(_, v)| to_sql(v)));
                } else {
                    for c in declared {
                        args.push(
                            r.msg
                                .get(&c.name)
                                .map_or(ToSqlOutput::Borrowed(ValueRef::Null), to_sql),
                        );
                    }
                    dropped += r
                        .msg
                        .fields
                        .iter()
                        .filter(|(n, _)| !declared.iter().any(|c| c.name == **n))
                        .count() as u64;
                }
                if let Some(st) = st.as_mut() {
                    inserted += st.execute(rusqlite::params_from_iter(args.iter()))? as u64;
                }
            }
        }
        let mut last: HashMap<i64, i64> = HashMap::new();
        for r in records {
            let e = last.entry(r.session).or_insert(r.time_ns);
            *e = (*e).max(r.time_ns);
        }
        for (s, t) in last {
            tx.execute(
                "UPDATE sessions SET end_ns = MAX(COALESCE(end_ns, 0), ?2) WHERE id = ?1",
                params![s, t],
            )?;
        }
        tx.commit()?;
        Ok((inserted, dropped))
    }

    fn table_name(kind: &str) -> Cow<'_, str> {
        if RESERVED.contains(&kind) || kind.starts_with("sqlite_") {
            Cow::Owned(format!("msg_{kind}"))
        } else {
            Cow::Borrowed(kind)
        }
    }

    /// Copies the WAL into the database file (synced unless `synchronous = OFF`).
    pub fn checkpoint(&self) -> rusqlite::Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .optional()?;
        Ok(())
    }
}
