//! Reads a coordinator's start-up log for why it did not start, and for which catalog. Pure.
//!
//! Both engines log in airlift's format, `TIME<TAB>LEVEL<TAB>THREAD<TAB>LOGGER<TAB>MESSAGE`, a
//! message's further lines following without a timestamp. What they wrote when a catalog kept
//! them from starting (measured on Trino 476 and PrestoDB 0.296; `tests/real_restart.rs` starts
//! them with such catalogs):
//!
//! * Trino: `-- Loading catalog bad --` for each catalog, `-- Added catalog good using connector
//!   tpch --` for each that loaded, then `ERROR … io.trino.server.Server Configuration errors:`
//!   and, lines later, `1) Error: Invalid value 'abc' for type int (property
//!   'tpch.splits-per-node') …`; or `No factory for connector 'nosuch'. Available factories: …`;
//!   or `Unable to create injector, see the following errors:` and a Guice error that names the
//!   file (`Catalog configuration /…/bad.properties does not contain connector.name`). Hundreds
//!   of lines of configuration come before it, and a stack trace after.
//! * PrestoDB: `ERROR … PrestoServer No factory for connector nosuch`, `Invalid property
//!   tpch.splits-per-node`, or the file without `connector.name`.

use std::collections::BTreeSet;

/// What a failed start's log says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnosis {
    /// The engine's own error: the first ERROR entry's message and the lines that explain it,
    /// without stack frames, at most a few lines.
    pub error: Option<String>,
    /// Catalogs the log shows loading but never added (the one that failed is among them).
    pub unfinished: BTreeSet<String>,
    /// Catalogs the log shows added: they loaded, whatever else failed.
    pub added: BTreeSet<String>,
}

/// Lines of the error kept for a report.
const ERROR_LINES: usize = 8;
/// Characters of the error kept for a report.
const ERROR_CHARS: usize = 1500;

/// Whether a line starts a new log entry (`2026-11-27T05:31:56.690Z<TAB>…`).
fn is_entry(line: &str) -> bool {
    let bytes = line.as_bytes();
    bytes.len() > 20
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[10] == b'T'
        && line.contains('\t')
}

/// An entry's level, logger and message (`TIME LEVEL THREAD LOGGER MESSAGE`).
fn entry(line: &str) -> Option<(&str, &str, &str)> {
    let mut fields = line.splitn(5, '\t');
    let _time = fields.next()?;
    let level = fields.next()?;
    let _thread = fields.next()?;
    let logger = fields.next()?;
    Some((level.trim(), logger.trim(), fields.next()?.trim()))
}

/// The loggers of the servers' main classes: what they log at ERROR is what stopped the start
/// (Trino's `Server` and PrestoDB's `PrestoServer` log it, then exit). Other ERROR entries of a
/// failing start are side effects — measured on PrestoDB 0.296 under load: `Error fetching node
/// stats … TimeoutException` before the catalog's own error.
const FATAL_LOGGERS: [&str; 2] = [
    "io.trino.server.Server",
    "com.facebook.presto.server.PrestoServer",
];

/// A continuation line that only says where, not what (stack frames, Guice's source notes).
fn is_noise(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty()
        || t.starts_with("at ")
        || t.starts_with("\\_ ")
        || t.starts_with("... ")
        || t.starts_with("Caused by:")
        || t.starts_with("https://")
        || t.starts_with("Learn more")
        || t.starts_with("===")
        || t.starts_with("Full classname legend")
        || t.starts_with("End of classname legend")
        || t.ends_with("Exception: Configuration errors:")
}

/// The name between `prefix` and ` --`/` ` in airlift's catalog lines.
fn catalog_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    let end = rest.find(' ').unwrap_or(rest.len());
    let name = rest[..end].trim();
    (!name.is_empty()).then_some(name)
}

pub fn diagnose(log: &str) -> Diagnosis {
    let mut diagnosis = Diagnosis::default();
    let mut loading = BTreeSet::new();
    // The first ERROR of the main class; else the last ERROR of any logger.
    let mut fatal: Option<String> = None;
    let mut other: Option<String> = None;
    let mut lines = log.lines().peekable();
    while let Some(line) = lines.next() {
        let Some((level, logger, message)) = entry(line).filter(|_| is_entry(line)) else {
            continue;
        };
        if let Some(name) = catalog_after(message, "-- Loading catalog ") {
            // PrestoDB also logs `-- Loading catalog properties etc/catalog/x.properties --`.
            if name != "properties" {
                loading.insert(name.to_string());
            }
        } else if let Some(name) = catalog_after(message, "-- Added catalog ") {
            diagnosis.added.insert(name.to_string());
        } else if level == "ERROR" && fatal.is_none() {
            let mut text = vec![message.to_string()];
            let mut in_legend = false;
            while let Some(next) = lines.peek() {
                if is_entry(next) {
                    break;
                }
                let next = lines.next().expect("peeked");
                // airlift appends a legend of the class names it abbreviated.
                if next.starts_with("Full classname legend") {
                    in_legend = true;
                } else if next.starts_with("End of classname legend") {
                    in_legend = false;
                    continue;
                }
                // A stack trace's first line repeats the message as `pkg.SomeException: …`.
                let repeated = next.contains("Exception: ") && next.ends_with(message);
                if !in_legend && !is_noise(next) && !repeated && text.len() < ERROR_LINES {
                    text.push(next.trim().to_string());
                }
            }
            let mut error = text.join("\n");
            if error.len() > ERROR_CHARS {
                let mut cut = ERROR_CHARS;
                while !error.is_char_boundary(cut) {
                    cut -= 1;
                }
                error.truncate(cut);
                error.push('…');
            }
            if FATAL_LOGGERS.contains(&logger) {
                fatal = Some(error);
            } else {
                other = Some(error);
            }
        }
    }
    diagnosis.error = fatal.or(other);
    diagnosis.unfinished = loading.difference(&diagnosis.added).cloned().collect();
    diagnosis
}

/// Property names an error message names: `property 'k'` (airlift's configuration errors),
/// `Invalid property k` (PrestoDB's tpch).
pub fn named_properties(error: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in error.match_indices("property '") {
        let rest = &error[at + "property '".len()..];
        if let Some(end) = rest.find('\'') {
            out.insert(rest[..end].to_string());
        }
    }
    for (at, _) in error.match_indices("Invalid property ") {
        let rest = &error[at + "Invalid property ".len()..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == ',' || c == ':')
            .unwrap_or(rest.len());
        if end > 0 {
            out.insert(rest[..end].to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Abridged from a real Trino 476 start with `bad.properties` = `tpch.splits-per-node=abc`.
    const TRINO: &str = "2026-11-27T05:31:27.272Z\tINFO\tmain\tBootstrap\tcatalog.management   STATIC   STATIC
2026-11-27T05:31:54.576Z\tINFO\tmain\tio.trino.connector.StaticCatalogManager\t-- Loading catalog good1 --
2026-11-27T05:31:56.507Z\tINFO\tmain\tio.trino.connector.StaticCatalogManager\t-- Added catalog good1 using connector tpch --
2026-11-27T05:31:56.507Z\tINFO\tmain\tio.trino.connector.StaticCatalogManager\t-- Loading catalog bad --
2026-11-27T05:31:56.530Z\tINFO\tmain\tio.trino.connector.StaticCatalogManager\t-- Loading catalog good2 --
2026-11-27T05:31:56.603Z\tINFO\tmain\tio.trino.connector.StaticCatalogManager\t-- Added catalog good2 using connector tpch --
2026-11-27T05:31:56.690Z\tERROR\tmain\tio.trino.server.Server\tConfiguration errors:

1) Error: Invalid value 'abc' for type int (property 'tpch.splits-per-node') in order to call [public TpchConfig TpchConfig.setSplitsPerNode(int)]

1 error

======================
Full classname legend:
======================
TpchConfig: \"io.trino.plugin.tpch.TpchConfig\"
========================
End of classname legend:
========================

io.airlift.bootstrap.ApplicationConfigurationException: Configuration errors:
\tat io.airlift.bootstrap.Bootstrap.initialize(Bootstrap.java:1)
";

    #[test]
    fn trinos_error_and_the_catalog_that_never_loaded() {
        let d = diagnose(TRINO);
        assert_eq!(
            d.error.as_deref(),
            Some(
                "Configuration errors:\n1) Error: Invalid value 'abc' for type int (property 'tpch.splits-per-node') in order to call [public TpchConfig TpchConfig.setSplitsPerNode(int)]\n1 error"
            )
        );
        assert_eq!(d.unfinished, ["bad".to_string()].into());
        assert_eq!(d.added, ["good1".to_string(), "good2".to_string()].into());
        assert_eq!(
            named_properties(d.error.as_deref().unwrap()),
            ["tpch.splits-per-node".to_string()].into()
        );
    }

    #[test]
    fn guice_errors_keep_their_message_and_lose_their_frames() {
        let log = "2026-11-27T05:32:34.891Z\tERROR\tmain\tio.trino.server.Server\tUnable to create injector, see the following errors:

1) [Guice/ErrorInjectingConstructor]: IllegalStateException: Catalog configuration /data/etc/catalog/bad.properties does not contain connector.name
  at StaticCatalogManager.<init>(Unknown Source)
      \\_ installed by: CatalogManagerModule -> StaticCatalogManagerModule
";
        assert_eq!(
            diagnose(log).error.as_deref(),
            Some(
                "Unable to create injector, see the following errors:\n1) [Guice/ErrorInjectingConstructor]: IllegalStateException: Catalog configuration /data/etc/catalog/bad.properties does not contain connector.name"
            )
        );
    }

    #[test]
    fn prestos_one_line_errors() {
        let log = "2026-11-27T03:26:16.455Z\tERROR\tmain\tcom.facebook.presto.server.PrestoServer\tInvalid property tpch.splits-per-node
java.lang.IllegalArgumentException: Invalid property tpch.splits-per-node
\tat com.facebook.presto.plugin.tpch.TpchConnectorFactory.getSplitsPerNode(TpchConnectorFactory.java:1)
";
        let d = diagnose(log);
        assert_eq!(
            d.error.as_deref(),
            Some("Invalid property tpch.splits-per-node")
        );
        assert_eq!(
            named_properties("Invalid property tpch.splits-per-node"),
            ["tpch.splits-per-node".to_string()].into()
        );
    }

    #[test]
    fn the_main_class_error_wins_over_side_effects() {
        // Measured on PrestoDB 0.296 under load: a node-stats timeout came first.
        let log = "2026-11-27T07:40:01.000Z\tERROR\tnode-state-poller-0\tcom.facebook.presto.metadata.RemoteNodeState\tError fetching node stats from http://172.17.0.2:8080/v1/info/stats: java.util.concurrent.TimeoutException: Total timeout 10000 ms elapsed
2026-11-27T07:40:05.000Z\tERROR\tmain\tcom.facebook.presto.server.PrestoServer\tInvalid property tpch.splits-per-node
java.lang.IllegalArgumentException: Invalid property tpch.splits-per-node
";
        assert_eq!(
            diagnose(log).error.as_deref(),
            Some("Invalid property tpch.splits-per-node")
        );
        // Without one from the main class, the last ERROR.
        let log = "2026-11-27T07:40:01.000Z\tERROR\tx\tsome.Logger\tfirst\n2026-11-27T07:40:02.000Z\tERROR\tx\tother.Logger\tsecond\n";
        assert_eq!(diagnose(log).error.as_deref(), Some("second"));
    }

    #[test]
    fn a_log_without_an_error_says_nothing() {
        assert_eq!(diagnose("junk\n\n\tat x\n"), Diagnosis::default());
    }
}
