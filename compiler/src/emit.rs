//! Pictures of a graph: Graphviz dot and Mermaid (placeholder until written).
