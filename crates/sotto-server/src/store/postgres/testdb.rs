//! A fresh PostgreSQL database per test, dropped afterwards, on the server named by
//! `SOTTO_TEST_POSTGRES_URL`. Tests skip (visibly) when it is unset or unreachable.

use sqlx::{Connection, PgConnection};

/// The test server's URL if it is set and answers; prints why not otherwise.
pub(crate) async fn server_url() -> Option<String> {
    let Ok(url) = std::env::var("SOTTO_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED: SOTTO_TEST_POSTGRES_URL is not set, PostgreSQL tests did not run");
        return None;
    };
    match PgConnection::connect(&url).await {
        Ok(conn) => {
            let _ = conn.close().await;
            Some(url)
        }
        Err(e) => {
            eprintln!("SKIPPED: PostgreSQL at SOTTO_TEST_POSTGRES_URL is unreachable ({e})");
            None
        }
    }
}

/// A database that exists as long as this value.
pub(crate) struct TestDatabase {
    /// URL of the fresh database.
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// Creates an empty database on the test server (which must be reachable).
    pub(crate) async fn create() -> Self {
        let admin_url = std::env::var("SOTTO_TEST_POSTGRES_URL").unwrap();
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).unwrap();
        let name = format!("sotto_test_{}", hex::encode(bytes));
        let mut conn = PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
        let url = with_database(&admin_url, &name);
        Self {
            url,
            admin_url,
            name,
        }
    }
}

/// `url` with its database path replaced by `name` (query parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, ""), |(b, q)| (b, q));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if !query.is_empty() {
        out.push('?');
        out.push_str(query);
    }
    out
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime: use a thread with its own runtime.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&admin_url).await.unwrap();
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            });
        });
        let _ = dropped.join();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_names_replace_the_path_only() {
        assert_eq!(
            super::with_database("postgres://u@h:5432/test?sslmode=disable", "x"),
            "postgres://u@h:5432/x?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgres://u@h", "x"),
            "postgres://u@h/x"
        );
    }
}
