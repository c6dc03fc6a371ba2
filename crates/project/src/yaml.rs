//! Typed YAML with errors that point into the file (serde-saphyr underneath).

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_saphyr::{MessageFormatter, Spanned, UserMessageFormatter};

use crate::error::{Error, Location};

/// Files bigger than this are refused before parsing: no project file or test definition is
/// anywhere near it, and it bounds what a hostile file can cost.
pub(crate) const MAX_FILE_BYTES: usize = 4 << 20;

/// Reads `path` as UTF-8 text, refusing huge files with a clear error.
pub(crate) fn read(path: &Path) -> Result<String, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Error::invalid(
            Location::file(path),
            format!(
                "the file is {} bytes; at most {MAX_FILE_BYTES} are accepted",
                bytes.len()
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let prefix = &e.as_bytes()[..offset];
        let line = 1 + prefix.iter().filter(|&&b| b == b'\n').count() as u64;
        let column = 1 + prefix.iter().rev().take_while(|&&b| b != b'\n').count() as u64;
        Error::invalid(
            Location::new(path, line, column),
            "invalid UTF-8 (the file must be UTF-8 text)",
        )
    })
}

/// Parses one YAML document of `text` (read from `path`) into `T`.
///
/// Duplicate keys are errors (in a configuration file they are always a mistake), aliases are
/// budgeted (no "billion laughs"), and every error names `path:line:column`.
pub(crate) fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, Error> {
    let options = serde_saphyr::options! {
        crop_radius: 2,
    };
    serde_saphyr::from_str_with_options(text, options).map_err(|error| syntax(path, &error))
}

fn syntax(path: &Path, error: &serde_saphyr::Error) -> Error {
    let (line, column) = error
        .location()
        .map(|at| (at.line(), at.column()))
        .unwrap_or((0, 0));
    let message = UserMessageFormatter
        .format_message(error.without_snippet())
        .into_owned();
    // The rendered error is "error: …", " --> <input>:L:C", then the snippet: keep the snippet.
    let rendered = error.render();
    let snippet = rendered
        .split_once("\n -->")
        .and_then(|(_, rest)| rest.split_once('\n'))
        .map(|(_, snippet)| snippet.trim_end().to_owned())
        .filter(|s| !s.is_empty());
    Error::Syntax {
        at: Location::new(path, line, column),
        message,
        snippet,
    }
}

/// Where a spanned value was written.
pub(crate) fn at<T>(path: &Path, value: &Spanned<T>) -> Location {
    Location::of(path, &value.referenced)
}
