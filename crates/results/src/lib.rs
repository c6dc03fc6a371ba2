//! Test output to test results.
mod cap;
mod model;
mod text;
pub use cap::*;
pub use model::*;
pub use text::*;
mod lava;
pub use lava::*;
mod error;
mod pattern;
pub use error::*;
pub use pattern::*;
