//! Printing diagnostics: human (with source snippets), JSON, GitHub annotations, SARIF (placeholder).
