//! Flow structure checks (placeholder until written).
use super::Symbols;
use crate::diagnostic::Diagnostics;

pub fn check(_symbols: &Symbols<'_>, _diagnostics: &mut Diagnostics) {}
