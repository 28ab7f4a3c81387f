//! How catalog changes reach the engine: the `--mode` flag, what the engine is known to support,
//! and the mode that follows from both.

use crate::catalog::Flavour;

/// How a catalog change reaches the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `CREATE CATALOG` / `DROP CATALOG` while the engine runs.
    Dynamic,
    /// The coordinator's catalog folder rendered and its nodes restarted.
    Restart,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Dynamic => "dynamic",
            Mode::Restart => "restart",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `--mode`: a mode, or `auto` to learn it from the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeChoice {
    Auto,
    Dynamic,
    Restart,
}

/// Whether the engine can add and remove catalogs at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Management {
    Dynamic,
    Static,
}

impl ModeChoice {
    /// The mode for an engine of `flavour` whose catalog management is `management`, as far as it
    /// is known. `auto` takes a Trino to be dynamic until it refuses a change as static; a PrestoDB
    /// cannot add catalogs at run time.
    pub fn decide(self, flavour: Flavour, management: Option<Management>) -> Mode {
        match self {
            ModeChoice::Dynamic => Mode::Dynamic,
            ModeChoice::Restart => Mode::Restart,
            ModeChoice::Auto if flavour == Flavour::Presto => Mode::Restart,
            ModeChoice::Auto => match management {
                Some(Management::Static) => Mode::Restart,
                Some(Management::Dynamic) | None => Mode::Dynamic,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_is_restart_for_prestodb_and_for_a_trino_known_to_be_static() {
        let auto = ModeChoice::Auto;
        assert_eq!(auto.decide(Flavour::Presto, None), Mode::Restart);
        assert_eq!(
            auto.decide(Flavour::Presto, Some(Management::Dynamic)),
            Mode::Restart
        );
        assert_eq!(
            auto.decide(Flavour::Trino, Some(Management::Static)),
            Mode::Restart
        );
    }

    #[test]
    fn auto_takes_a_trino_to_be_dynamic_until_it_says_otherwise() {
        assert_eq!(ModeChoice::Auto.decide(Flavour::Trino, None), Mode::Dynamic);
        assert_eq!(
            ModeChoice::Auto.decide(Flavour::Trino, Some(Management::Dynamic)),
            Mode::Dynamic
        );
    }

    #[test]
    fn a_mode_given_on_the_command_line_is_the_mode() {
        for flavour in [Flavour::Trino, Flavour::Presto] {
            for management in [None, Some(Management::Static), Some(Management::Dynamic)] {
                assert_eq!(
                    ModeChoice::Dynamic.decide(flavour, management),
                    Mode::Dynamic
                );
                assert_eq!(
                    ModeChoice::Restart.decide(flavour, management),
                    Mode::Restart
                );
            }
        }
    }
}
