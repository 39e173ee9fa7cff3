//! Name and value checks (placeholder until written).
use super::{Checked, Symbols};
use crate::ast;
use crate::diagnostic::Diagnostics;
use crate::source::Sources;

pub fn check(_sources: &Sources, _files: &[ast::File], _symbols: &Symbols<'_>, _checked: &mut Checked, _diagnostics: &mut Diagnostics) {}
