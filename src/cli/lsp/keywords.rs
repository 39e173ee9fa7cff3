//! The keywords of the flow language (the `kw_*` rules of grammars/flow.pest), for
//! completion and hover; a test keeps the list in step with the grammar.

pub const KEYWORDS: [&str; 74] = [
    "import",
    "calendar",
    "timezone",
    "closed",
    "holidays",
    "easter",
    "office",
    "hours",
    "staff",
    "as",
    "ring",
    "all",
    "appointments",
    "capacity",
    "category",
    "priority",
    "sla",
    "service",
    "slot",
    "prompt",
    "file",
    "flow",
    "answers",
    "language",
    "fallback",
    "max",
    "duration",
    "visits",
    "say",
    "play",
    "menu",
    "timeout",
    "retries",
    "unlimited",
    "collect",
    "into",
    "digits",
    "end",
    "pattern",
    "set",
    "if",
    "else",
    "goto",
    "call",
    "return",
    "transfer",
    "queue",
    "music",
    "wait",
    "announce",
    "position",
    "callback",
    "note",
    "citizen",
    "first",
    "ticket",
    "with",
    "appointment",
    "book",
    "cancel",
    "booking",
    "offer",
    "move",
    "record",
    "conference",
    "pin",
    "webhook",
    "send",
    "hangup",
    "and",
    "or",
    "not",
    "true",
    "false",
];

/// The words that start an action, after `state:`.
pub const ACTIONS: [&str; 20] = [
    "say",
    "play",
    "menu",
    "collect",
    "set",
    "if",
    "goto",
    "call",
    "return",
    "transfer",
    "queue",
    "callback",
    "ticket",
    "appointment",
    "book",
    "cancel",
    "move",
    "record",
    "conference",
    "webhook",
];

/// The words that start a definition.
pub const DEFINITIONS: [&str; 7] = [
    "import", "calendar", "office", "category", "service", "prompt", "flow",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `kw_NAME = @{ "word" ...` of the grammar.
    pub fn grammar_keywords() -> Vec<String> {
        let grammar = include_str!("../../../grammars/flow.pest");
        grammar
            .lines()
            .filter(|line| line.starts_with("kw_"))
            .filter_map(|line| line.split('"').nth(1))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_list_is_the_grammars() {
        let mut ours: Vec<&str> = KEYWORDS.to_vec();
        let mut grammar = grammar_keywords();
        ours.sort_unstable();
        grammar.sort_unstable();
        assert_eq!(ours, grammar);
        for word in ACTIONS.iter().chain(&DEFINITIONS) {
            assert!(KEYWORDS.contains(word), "{word}");
        }
    }
}
