//! Where each line of a rewritten text comes from.
//!
//! Loading rewrites the job text several times (comments, includes, `{{ }}` protection, ERB)
//! before YAML sees it. A [`SourceMap`] follows every line through those rewrites, so that an
//! error in the final text is reported at its place in the file the user wrote.

use std::sync::Arc;

use crate::error::Location;

/// The origin of one line of a rewritten text.
#[derive(Debug, Clone)]
pub(crate) struct LineOrigin {
    pub file: Arc<str>,
    /// 1-based line in `file`.
    pub line: usize,
    /// Added to a 0-based column of the rewritten line to get the column in `file`.
    pub col_shift: isize,
}

/// Line origins of a text; lines past the end map to the last known file.
#[derive(Debug, Clone)]
pub(crate) struct SourceMap {
    pub default_file: Arc<str>,
    pub lines: Vec<LineOrigin>,
}

impl SourceMap {
    /// Every line comes from the same line of `file`.
    pub(crate) fn identity(file: Arc<str>, text: &str) -> SourceMap {
        let n = text.split('\n').count();
        SourceMap {
            lines: (1..=n)
                .map(|line| LineOrigin {
                    file: file.clone(),
                    line,
                    col_shift: 0,
                })
                .collect(),
            default_file: file,
        }
    }

    /// The location of 1-based `line`, 0-based `col` of the rewritten text.
    pub(crate) fn locate(&self, line: usize, col: usize) -> Location {
        match self.lines.get(line.wrapping_sub(1)) {
            Some(o) => {
                let col = (col as isize + o.col_shift).max(0) as usize;
                Location::new(o.file.clone(), o.line, col + 1)
            }
            None => {
                let last = self.lines.last().map(|o| o.line + 1).unwrap_or(line);
                let file = self
                    .lines
                    .last()
                    .map(|o| o.file.clone())
                    .unwrap_or_else(|| self.default_file.clone());
                Location::new(file, last, col + 1)
            }
        }
    }

    pub(crate) fn origin(&self, line: usize) -> LineOrigin {
        self.lines
            .get(line.wrapping_sub(1))
            .cloned()
            .unwrap_or_else(|| LineOrigin {
                file: self.default_file.clone(),
                line,
                col_shift: 0,
            })
    }
}

/// Builds a text line by line, recording where each line comes from.
#[derive(Debug)]
pub(crate) struct TextBuilder {
    pub text: String,
    lines: Vec<LineOrigin>,
    need_origin: bool,
    default_file: Arc<str>,
}

impl TextBuilder {
    pub(crate) fn new(default_file: Arc<str>) -> TextBuilder {
        TextBuilder {
            text: String::new(),
            lines: Vec::new(),
            need_origin: true,
            default_file,
        }
    }

    fn newline(&mut self, origin: &LineOrigin) {
        if self.need_origin {
            self.lines.push(origin.clone());
        }
        self.text.push('\n');
        self.need_origin = true;
    }

    /// Appends text that may contain newlines; every line it starts gets `origin`.
    pub(crate) fn push_text(&mut self, text: &str, origin: &LineOrigin) {
        for (i, piece) in text.split('\n').enumerate() {
            if i > 0 {
                self.newline(origin);
            }
            if !piece.is_empty() {
                if self.need_origin {
                    self.lines.push(origin.clone());
                    self.need_origin = false;
                }
                self.text.push_str(piece);
            }
        }
    }

    pub(crate) fn finish(self) -> (String, SourceMap) {
        (
            self.text,
            SourceMap {
                default_file: self.default_file,
                lines: self.lines,
            },
        )
    }
}
