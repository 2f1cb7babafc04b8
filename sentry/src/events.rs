//! Limit events: one line on stderr for the user, and with `--events FILE` one JSON object a
//! line in that file.

use std::fs::File;
use std::io::Write;
use std::sync::Mutex;

/// Where events go: stderr always (for the lines that have one), the `--events` file if given.
#[derive(Default)]
pub struct Events {
    file: Option<Mutex<File>>,
}

impl Events {
    /// Events into `path` (appending; created if missing), or none.
    pub fn open(path: Option<&std::path::Path>) -> Result<Events, String> {
        let Some(path) = path else {
            return Ok(Events::default());
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("--events {}: {e}", path.display()))?;
        Ok(Events {
            file: Some(Mutex::new(file)),
        })
    }

    /// Emits one event: `sentry: <line>` on stderr (when `line` is given) and, with
    /// `--events`, the JSON object `fields` plus `"event"` and `"time"` as one line.
    pub fn emit(
        &self,
        kind: &str,
        mut fields: serde_json::Map<String, serde_json::Value>,
        line: Option<&str>,
    ) {
        if let Some(line) = line {
            stderr_line(format_args!("sentry: {line}"));
        }
        if let Some(file) = &self.file {
            let mut object = serde_json::Map::new();
            object.insert("event".into(), kind.into());
            object.append(&mut fields);
            object.insert("time".into(), now().into());
            let mut text = serde_json::Value::Object(object).to_string();
            text.push('\n');
            if let Ok(mut f) = file.lock() {
                let _ = f.write_all(text.as_bytes());
            }
        }
    }
}

/// Seconds since the Unix epoch, with milliseconds.
fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| (d.as_millis() as f64) / 1000.0)
        .unwrap_or(0.0)
}

/// Builds the fields of an event.
#[macro_export]
macro_rules! event_fields {
    ($($key:literal : $value:expr),* $(,)?) => {{
        let mut map = serde_json::Map::new();
        $(map.insert($key.to_string(), serde_json::json!($value));)*
        map
    }};
}

/// A line on stderr. A stderr that cannot take it (a full disk, a closed pipe) loses the line
/// rather than ending the sentry, as `eprintln!` would (it panics).
pub fn stderr_line(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
