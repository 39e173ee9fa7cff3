//! The flow graph as a picture (SVG) for the console, drawn in-process.
//!
//! ```text
//!   Graph ──emit::dot (what `centralino graph` prints)──► DOT ──layout-rs: parse, lay out──► SVG
//!                                                                     │
//!                                         texts escaped by layout-rs ─┴─► checked: no active content
//! ```
//!
//! State names, prompts and labels come from flow files, so the picture is treated as outside
//! data: layout-rs escapes every text it writes (`<`, `>`, `&`, quotes), and [`is_inert`] refuses
//! a picture that still holds a script, an event handler, a link or embedded HTML. The route
//! that serves it also forbids scripts by `Content-Security-Policy` ([`svg_response`]).
//! Laying out is CPU work (a second for Perugia's 200 states optimised): callers run it on the
//! blocking pool. layout-rs asserts on graphs it cannot lay out; such a panic is caught and
//! reported as an error, never taking the server down.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use centralino_compiler::{Graph, emit};
use layout::backends::svg::SVGWriter;
use layout::gv::{DotParser, GraphBuilder};

/// Why a picture could not be drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PictureError {
    #[error("the graph's DOT text could not be read by the layout: {0}")]
    Dot(String),
    #[error("the graph could not be laid out")]
    Layout,
    #[error("the picture held active content and was not served")]
    NotInert,
}

/// The SVG picture of `graph`.
pub fn svg(graph: &Graph) -> Result<String, PictureError> {
    svg_of_dot(&emit::dot(graph))
}

/// Lay out DOT text as SVG.
pub fn svg_of_dot(dot: &str) -> Result<String, PictureError> {
    let dot = dot.to_owned();
    let drawn = std::panic::catch_unwind(move || {
        let mut parser = DotParser::new(&dot);
        let parsed = parser.process().map_err(PictureError::Dot)?;
        let mut builder = GraphBuilder::new();
        builder.visit_graph(&parsed);
        let mut visual = builder.get();
        let mut writer = SVGWriter::new();
        visual.do_it(false, false, false, &mut writer);
        Ok(writer.finalize())
    })
    .map_err(|_| PictureError::Layout)??;
    if is_inert(&drawn) {
        Ok(drawn)
    } else {
        Err(PictureError::NotInert)
    }
}

/// Whether an SVG text holds nothing a browser would run or follow: every tag is one of the
/// drawing elements layout-rs writes (no `<script>`, no `<foreignObject>` with HTML, no `<a>`),
/// and no attribute is an event handler (`on...=`), a link out (`href` or `url(` not to `#` in
/// the picture itself) or a `javascript:` value.
/// Texts between tags are not judged: their `<` is escaped, so they cannot open a tag.
pub fn is_inert(svg: &str) -> bool {
    const DRAWING: [&str; 17] = [
        "?xml", "svg", "defs", "marker", "polygon", "style", "g", "rect", "text", "tspan", "path",
        "line", "ellipse", "circle", "polyline", "clippath", "textpath",
    ];
    let lower = svg.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let end = after.find('>').unwrap_or(after.len());
        let tag = &after[..end];
        rest = &after[end..];
        let mut words = tag.split(|c: char| c.is_whitespace());
        let name = words.next().unwrap_or("");
        let name = name.trim_start_matches('/').trim_end_matches('/');
        if !DRAWING.contains(&name) {
            return false;
        }
        let active = |attribute: &str| {
            attribute.starts_with("on") && attribute.contains('=')
                || (attribute.contains("href") && !attribute.contains("href=\"#"))
                || attribute.contains("javascript:")
                || (attribute.contains("url(") && !attribute.contains("url(#"))
        };
        if words.any(active) {
            return false;
        }
    }
    true
}

/// An SVG picture as an HTTP answer that cannot run anything even when opened on its own.
pub fn svg_response(svg: String) -> Response {
    let mut response = (StatusCode::OK, svg).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn graph_of(text: &str) -> Graph {
        let mut sources = centralino_compiler::Sources::new();
        sources.add("test.flow", text);
        let compiled = centralino_compiler::compile(&sources);
        assert!(
            !compiled.diagnostics.has_errors(),
            "{:?}",
            compiled.diagnostics
        );
        compiled.graph.unwrap()
    }

    #[test]
    fn the_picture_names_every_state() {
        let graph = graph_of(
            r#"
flow main answers "100" {
  language it
  menu_iniziale: menu "Prema 1." {
    1 -> saluti
    timeout, invalid -> saluti
  }
  saluti: say "Arrivederci." -> hangup
}
"#,
        );
        let picture = svg(&graph).unwrap();
        assert!(picture.starts_with("<?xml"), "{picture}");
        assert!(picture.contains("<svg"), "{picture}");
        assert!(picture.contains(">menu_iniziale<"), "{picture}");
        assert!(picture.contains(">saluti<"), "{picture}");
    }

    /// Texts of a flow that try to become markup are written as text.
    #[test]
    fn markup_in_the_flows_stays_text() {
        let graph = graph_of(
            r#"
flow main answers "100" {
  language it
  inizio: say "<script>alert(1)</script><svg onload=alert(2)> & \"quoted\" onclick=x" -> hangup
}
"#,
        );
        let picture = svg(&graph).unwrap();
        assert!(!picture.contains("<script"), "{picture}");
        assert!(!picture.contains("<svg onload"), "{picture}");
        assert!(picture.contains("&lt;script&gt;"), "{picture}");
        assert!(is_inert(&picture));
    }

    #[test]
    fn active_content_is_noticed() {
        assert!(is_inert(
            r#"<svg><text x="1">on=1 onclick=&quot;</text></svg>"#
        ));
        assert!(!is_inert("<svg><script>alert(1)</script></svg>"));
        assert!(!is_inert(r#"<svg><rect onclick="x"/></svg>"#));
        assert!(!is_inert(r#"<svg><image href="javascript:x"/></svg>"#));
        assert!(!is_inert(
            "<svg><foreignObject><p>x</p></foreignObject></svg>"
        ));
        assert!(!is_inert(r#"<svg><a xlink:href="x">y</a></svg>"#));
    }

    #[test]
    fn dot_that_does_not_parse_is_an_error_not_a_panic() {
        assert!(matches!(svg_of_dot("digraph {"), Err(PictureError::Dot(_))));
    }
}
