//! A loaded graph version, ready to run: templates compiled once, patterns compiled once.

use std::collections::BTreeMap;
use std::sync::Arc;

use centralino_compiler::graph::{Graph, PromptBody};

use super::Media;
use super::eval::Context;

/// Fuel for one template rendering: bounds loops in staff-written templates.
const TEMPLATE_FUEL: u64 = 50_000;

#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    #[error("template of prompt `{prompt}` ({language}) does not compile: {message}")]
    Template {
        prompt: String,
        language: String,
        message: String,
    },
}

/// One version of the deployment: the graph and what is derived from it once.
pub struct Program {
    pub graph: Graph,
    templates: minijinja::Environment<'static>,
    patterns: BTreeMap<String, regex::Regex>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("version", &self.graph.content_hash)
            .finish_non_exhaustive()
    }
}

fn template_name(prompt: &str, language: &str) -> String {
    format!("{prompt}@{language}")
}

impl Program {
    pub fn new(graph: Graph) -> Result<Arc<Program>, ProgramError> {
        let mut templates = minijinja::Environment::new();
        templates.set_fuel(Some(TEMPLATE_FUEL));
        // Speech, not HTML: never escape.
        templates.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        templates.add_filter("spell", spell);
        for (key, prompt) in &graph.prompts {
            for (language, body) in &prompt.variants {
                if let PromptBody::Text { template, .. } = body {
                    templates
                        .add_template_owned(template_name(key, language), template.clone())
                        .map_err(|e| ProgramError::Template {
                            prompt: key.clone(),
                            language: language.clone(),
                            message: e.to_string(),
                        })?;
                }
            }
        }
        let mut patterns = BTreeMap::new();
        for node in &graph.nodes {
            if let centralino_compiler::graph::Action::Collect {
                pattern: Some(p), ..
            } = &node.action
            {
                // Anchored: the whole answer must match. The compiler checked it compiles.
                if let Ok(re) = regex::Regex::new(&format!("^(?:{p})$")) {
                    patterns.insert(p.clone(), re);
                }
            }
        }
        Ok(Arc::new(Program {
            graph,
            templates,
            patterns,
        }))
    }

    /// The version id: the content hash of the sources.
    pub fn version(&self) -> &str {
        &self.graph.content_hash
    }

    pub(crate) fn pattern_matches(&self, pattern: &str, text: &str) -> bool {
        self.patterns
            .get(pattern)
            .is_some_and(|re| re.is_match(text))
    }

    /// The media for a prompt in `language`, else `fallback`, else the language-neutral
    /// variant, else any variant. Text is rendered with the call's variables.
    pub fn media(
        &self,
        key: &str,
        language: &str,
        fallback: Option<&str>,
        context: &Context<'_>,
    ) -> Result<Media, String> {
        let prompt = self
            .graph
            .prompts
            .get(key)
            .ok_or_else(|| String::from("no such prompt"))?;
        let (chosen, body) = [Some(language), fallback, Some("*")]
            .into_iter()
            .flatten()
            .find_map(|l| prompt.variants.get_key_value(l))
            .or_else(|| prompt.variants.iter().next())
            .ok_or_else(|| String::from("the prompt has no text"))?;
        match body {
            PromptBody::Audio { path, .. } => Ok(Media::Audio { path: path.clone() }),
            PromptBody::Text {
                template,
                variables,
            } => {
                let text = if variables.is_empty() && !template.contains("{%") {
                    template.clone()
                } else {
                    let compiled = self
                        .templates
                        .get_template(&template_name(key, chosen))
                        .map_err(|e| e.to_string())?;
                    compiled
                        .render(to_template_value(&context.template_values()))
                        .map_err(|e| e.to_string())?
                };
                let spoken_language = if chosen == "*" { language } else { chosen };
                Ok(Media::Speech {
                    text,
                    language: spoken_language.to_owned(),
                })
            }
        }
    }
}

/// The `spell` template filter: a code read out one character at a time, so that a caller can
/// write it down or key it in (`4815162` → `4 8 1 5 1 6 2`; `PG-2026-000123` →
/// `P G, 2 0 2 6, 0 0 0 1 2 3`). Text-to-speech reads a run of digits as one large number
/// ("four million eight hundred..."). Anything that is not a letter or digit is a pause.
pub fn spell(value: &minijinja::Value) -> String {
    let text = value.to_string();
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|group| !group.is_empty())
        .map(|group| {
            let mut spelled = String::with_capacity(group.len() * 2);
            for (i, c) in group.chars().enumerate() {
                if i > 0 {
                    spelled.push(' ');
                }
                spelled.push(c);
            }
            spelled
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// JSON to a template value (objects, text, numbers, booleans).
fn to_template_value(value: &serde_json::Value) -> minijinja::Value {
    match value {
        serde_json::Value::Object(map) => minijinja::Value::from(
            map.iter()
                .map(|(k, v)| (k.clone(), to_template_value(v)))
                .collect::<BTreeMap<String, minijinja::Value>>(),
        ),
        serde_json::Value::String(s) => minijinja::Value::from(s.as_str()),
        serde_json::Value::Bool(b) => minijinja::Value::from(*b),
        serde_json::Value::Number(n) => n.as_i64().map_or_else(
            || minijinja::Value::from(n.to_string()),
            minijinja::Value::from,
        ),
        serde_json::Value::Array(items) => {
            minijinja::Value::from(items.iter().map(to_template_value).collect::<Vec<_>>())
        }
        serde_json::Value::Null => minijinja::Value::from(()),
    }
}

#[cfg(test)]
mod tests {
    use super::spell;
    use minijinja::Value;

    #[test]
    fn spell_reads_codes_one_character_at_a_time() {
        assert_eq!(spell(&Value::from("4815162")), "4 8 1 5 1 6 2");
        assert_eq!(spell(&Value::from(4_815_162)), "4 8 1 5 1 6 2");
        assert_eq!(
            spell(&Value::from("PG-2026-000123")),
            "P G, 2 0 2 6, 0 0 0 1 2 3"
        );
        assert_eq!(spell(&Value::from(" -- ")), "");
        assert_eq!(spell(&Value::from("è1")), "è 1");
    }
}
