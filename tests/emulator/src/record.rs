//! `--record FILE`: one JSON line per statement when it reaches an end state, flushed at once, so
//! tests can assert exactly what a client sent.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;

use crate::clock;

#[derive(Serialize)]
struct Line<'a> {
    /// RFC 3339 with microseconds.
    time: String,
    #[serde(rename = "queryId")]
    query_id: Option<&'a str>,
    user: Option<&'a str>,
    sql: &'a str,
    /// FINISHED, FAILED, USER_CANCELED, or REJECTED (refused before a query existed).
    outcome: &'a str,
    #[serde(rename = "errorName")]
    error_name: Option<&'a str>,
}

pub struct Recorder(Mutex<File>);

impl Recorder {
    pub fn open(path: &Path) -> std::io::Result<Recorder> {
        Ok(Recorder(Mutex::new(
            File::options().create(true).append(true).open(path)?,
        )))
    }

    pub fn record(
        &self,
        query_id: Option<&str>,
        user: Option<&str>,
        sql: &str,
        outcome: &str,
        error_name: Option<&str>,
    ) {
        let line = Line {
            time: clock::rfc3339_micros(SystemTime::now()),
            query_id,
            user,
            sql,
            outcome,
            error_name,
        };
        let mut text = serde_json::to_string(&line).unwrap_or_default();
        text.push('\n');
        let mut file = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(error) = file.write_all(text.as_bytes()).and_then(|()| file.flush()) {
            eprintln!("coordinator-emulator: cannot write the record file: {error}");
        }
    }
}
