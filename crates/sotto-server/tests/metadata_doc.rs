#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! docs/metadata.md against the relay: every table and column of a freshly migrated SQLite
//! store is documented there and nothing else is, and the disclosure report's fields are
//! exactly the ones it lists.
//!
//! The format parsed: under `## Database tables`, a `### \`table\`` heading per table followed
//! by a markdown table whose rows start with `| \`column\``
//! (other `###` headings there end a table's rows); under `## The disclosure report`,
//! one `- \`field.path\` — meaning` bullet per field.

mod common;

use serde_json::Value;
use sotto_server::admin::disclose;
use sotto_server::domain::Username;
use sqlx::ConnectOptions as _;
use sqlx::sqlite::SqliteConnectOptions;
use std::collections::BTreeSet;

const DOC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/metadata.md"
));

/// Documented before they exist: they come with migration 0005 (sealed sender). Each may be
/// missing from the schema or the report; once present it is checked like every other.
const PENDING: &[&str] = &["accounts.access_key_hash", "accounts.sealed_unrestricted"];
const PENDING_REPORT: &[&str] = &["sealed_sender.access_key_set", "sealed_sender.unrestricted"];

/// The lines of the `## {title}` section, up to the next `## ` heading.
fn section(title: &str) -> Vec<&'static str> {
    let heading = format!("## {title}");
    let mut lines = DOC.lines().skip_while(|l| l.trim_end() != heading);
    assert!(
        lines.next().is_some(),
        "docs/metadata.md has no `{heading}`"
    );
    lines.take_while(|l| !l.starts_with("## ")).collect()
}

/// The first backquoted word after `prefix`, if the line starts with it.
fn quoted<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(prefix)?.strip_prefix('`')?;
    rest.split('`').next().filter(|name| !name.is_empty())
}

/// `table.column` for every column documented under `## Database tables`.
fn documented_columns() -> BTreeSet<String> {
    let mut table = None;
    let mut columns = BTreeSet::new();
    for line in section("Database tables") {
        if line.starts_with("### ") {
            table = quoted(line, "### ");
        } else if let (Some(table), Some(column)) = (table, quoted(line, "| ")) {
            assert!(
                columns.insert(format!("{table}.{column}")),
                "{table}.{column} documented twice"
            );
        }
    }
    columns
}

/// `table.column` for every column of a freshly migrated store.
async fn schema_columns(database: &std::path::Path) -> BTreeSet<String> {
    let mut conn = SqliteConnectOptions::new()
        .filename(database)
        .read_only(true)
        .connect()
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table'
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut columns = BTreeSet::new();
    for table in tables {
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
            .bind(&table)
            .fetch_all(&mut conn)
            .await
            .unwrap();
        assert!(!names.is_empty(), "{table} has no columns");
        columns.extend(names.into_iter().map(|c| format!("{table}.{c}")));
    }
    columns
}

/// Dotted paths of the leaves of `value`; an array of objects contributes its elements' keys.
fn flatten(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| flatten(v, &join(k), out)),
        Value::Array(items) if items.iter().any(Value::is_object) => {
            items.iter().for_each(|item| flatten(item, prefix, out));
        }
        _ => {
            out.insert(prefix.to_owned());
        }
    }
}

/// Asserts `actual` equals `documented`, except that pending entries may be missing.
fn assert_matches(
    what: &str,
    actual: &BTreeSet<String>,
    documented: &BTreeSet<String>,
    pending: &[&str],
) {
    let undocumented: Vec<_> = actual.difference(documented).collect();
    assert!(
        undocumented.is_empty(),
        "{what} missing from docs/metadata.md: {undocumented:?}"
    );
    let absent: Vec<_> = documented
        .difference(actual)
        .filter(|name| !pending.contains(&name.as_str()))
        .collect();
    assert!(
        absent.is_empty(),
        "documented {what} that do not exist: {absent:?}"
    );
}

#[tokio::test]
async fn every_table_and_column_is_documented_and_only_those() {
    let relay = common::TestRelay::new(common::relaxed()).await;
    let schema = schema_columns(relay.store.path()).await;
    assert!(schema.contains("mailbox.sender_account"), "{schema:?}");
    assert_matches("columns", &schema, &documented_columns(), PENDING);
}

#[tokio::test]
async fn disclosure_report_fields_are_the_documented_ones() {
    let relay = common::TestRelay::new(common::relaxed()).await;
    relay.register("alice", 2).await;
    let report = disclose(&relay.store, &Username::parse("alice").unwrap())
        .await
        .unwrap()
        .expect("alice is registered");
    let mut fields = BTreeSet::new();
    flatten(&serde_json::to_value(&report).unwrap(), "", &mut fields);
    assert!(fields.contains("devices.last_seen_day"), "{fields:?}");
    let documented: BTreeSet<String> = section("The disclosure report")
        .into_iter()
        .filter_map(|line| quoted(line, "- ").map(str::to_owned))
        .collect();
    assert_matches("report fields", &fields, &documented, PENDING_REPORT);
}
