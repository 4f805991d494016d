//! A mapping: a named jq program from one shape to another, run within limits. Decoding, the
//! program, and encoding the output each fail with their own error; none can take the process
//! down (see `meter.rs`, `recursion.rs`, `value.rs`).

use std::sync::Arc;

use crate::jq::{parse_json, Program, Val};
use crate::meter::Limits;
use crate::value::{drop_deep, write_json};

/// Why a mapping failed on one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapError {
    /// The input is not a document the mapping can read.
    Input(String),
    /// The program raised an error or ran out of steps or time.
    Program(String),
    /// The program produced nothing (`empty`, or `select` dropped the input).
    NoOutput,
    /// The output is too large, too deep, or not JSON.
    Output(String),
}

impl MapError {
    /// A short machine-readable kind.
    pub fn kind(&self) -> &'static str {
        match self {
            MapError::Input(_) => "input",
            MapError::Program(_) => "program",
            MapError::NoOutput => "no_output",
            MapError::Output(_) => "output",
        }
    }
}

impl std::fmt::Display for MapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MapError::Input(e) => write!(f, "cannot read the input: {e}"),
            MapError::Program(e) => write!(f, "the mapping failed: {e}"),
            MapError::NoOutput => f.write_str("the mapping produced no output"),
            MapError::Output(e) => write!(f, "the mapping's output was refused: {e}"),
        }
    }
}

impl std::error::Error for MapError {}

/// A compiled mapping; cheap to clone.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub name: Arc<str>,
    pub program: Program,
    pub limits: Limits,
    /// Set when the program only picks fields: records are then mapped without jq.
    projection: Option<Arc<crate::projection::Projection>>,
}

impl Mapping {
    pub fn new(name: &str, program: Program, limits: Limits) -> Self {
        Self {
            name: name.into(),
            projection: crate::projection::Projection::of(program.code()).map(Arc::new),
            program,
            limits,
        }
    }

    /// Maps one record of a vendor's list, as [`Mapping::map_json`] does; a mapping that only
    /// picks fields copies them from the record's bytes instead of running jq (the same answer,
    /// as JSON; anything jq must decide is left to it).
    pub fn map_record(&self, record: &[u8], out: &mut Vec<u8>) -> Result<(), MapError> {
        if let Some(p) = &self.projection {
            if p.apply(
                record,
                crate::jq::MAX_DEPTH.min(self.limits.depth),
                self.limits.output,
                out,
            )
            .is_some()
            {
                return Ok(());
            }
        }
        self.map_json(record, out)
    }

    /// Maps one value and writes the output as compact JSON into `out`.
    pub fn map_value(&self, input: Val, out: &mut Vec<u8>) -> Result<(), MapError> {
        let output = self
            .program
            .run(input, self.limits)
            .map_err(MapError::Program)?
            .ok_or(MapError::NoOutput)?;
        let written = write_json(&output, self.limits.depth, self.limits.output, out)
            .map_err(|e| MapError::Output(e.to_string()));
        if written.is_err() {
            out.clear();
        }
        drop_deep(output);
        written
    }

    /// Decodes a JSON document, maps it, and writes the output into `out`.
    pub fn map_json(&self, body: &[u8], out: &mut Vec<u8>) -> Result<(), MapError> {
        let input = parse_json(body).map_err(MapError::Input)?;
        self.map_value(input, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn mapping(code: &str) -> Mapping {
        Mapping::new("m", Program::compile(code).unwrap(), Limits::default())
    }

    fn map(code: &str, input: &str) -> Result<String, MapError> {
        let mut out = Vec::new();
        mapping(code)
            .map_json(input.as_bytes(), &mut out)
            .map(|()| String::from_utf8(out).unwrap())
    }

    #[test]
    fn a_mapping_reshapes_a_document() {
        assert_eq!(
            map(
                "{id, email: (.email | ascii_downcase), city: .address.city}",
                r#"{"id":"c1","email":"A@B.COM","address":{"city":"Lyon"},"x":1}"#
            )
            .unwrap(),
            r#"{"id":"c1","email":"a@b.com","city":"Lyon"}"#
        );
    }

    #[test]
    fn each_failure_has_its_kind() {
        assert_eq!(map(".", "{").unwrap_err().kind(), "input");
        assert_eq!(map(".a.b", r#"{"a":1}"#).unwrap_err().kind(), "program");
        assert_eq!(map("empty", "{}").unwrap_err(), MapError::NoOutput);
        assert_eq!(map("nan", "{}").unwrap_err().kind(), "output");
    }

    #[test]
    fn limits_stop_a_runaway_mapping() {
        for code in [
            "last(range(1e12))",
            "[repeat(1)] | length",
            "until(false; .)",
            "[recurse(. + 1)] | length",
            "last(while(true; .))",
            "[limit(1e9; repeat(.))] | length",
        ] {
            let e = map(code, "1").unwrap_err();
            assert_eq!(e.kind(), "program", "{code}: {e}");
            assert!(e.to_string().contains("ran out of"), "{code}: {e}");
        }
    }

    #[test]
    fn the_time_limit_stops_slow_loops() {
        let m = Mapping::new(
            "slow",
            Program::compile("last(range(1e12) | tostring)").unwrap(),
            Limits {
                steps: u64::MAX,
                time: Duration::from_millis(50),
                ..Limits::default()
            },
        );
        let t0 = std::time::Instant::now();
        let e = m.map_json(b"null", &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("ran out of time"), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn deep_or_large_outputs_are_refused() {
        let e = map("reduce range(1000) as $i (null; [.])", "null").unwrap_err();
        assert!(e.to_string().contains("deeper"), "{e}");
        // One value over the output limit, built in one step: the test is about size, and a
        // loop building it can run out of time first on a loaded machine.
        let e = map("\"x\" * 1100000", "null").unwrap_err();
        assert!(e.to_string().contains("larger"), "{e}");
    }

    #[test]
    fn recursive_definitions_are_refused_at_compile_time() {
        let e = Program::compile("def f: 1 + f; f").unwrap_err();
        assert!(e.message.contains("calls itself"), "{e}");
        assert_eq!((e.line, e.column), (1, 12));
    }

    #[test]
    fn the_environment_and_process_control_are_out_of_reach() {
        for code in [
            "env",
            "$ENV",
            "input",
            "halt",
            "halt_error",
            "debug",
            "stderr",
        ] {
            assert!(Program::compile(code).is_err(), "{code} compiled");
        }
    }
}
