//! A loaded graph version, ready to run: templates compiled once, patterns compiled once.

use std::collections::{BTreeMap, HashMap};
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
    /// Every office's staff contacts, office after office in the graph's order (a person of
    /// two offices is there twice): a call's presence answers are kept as positions in it.
    staff_contacts: Vec<String>,
    /// The first position of each contact in `staff_contacts`.
    staff_positions: HashMap<String, u32>,
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
        centralino_compiler::check::templates::add_filters(&mut templates);
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
        let staff_contacts: Vec<String> = graph
            .offices
            .values()
            .flat_map(|office| office.staff.iter().map(|s| s.contact.clone()))
            .collect();
        let mut staff_positions = HashMap::new();
        for (position, contact) in (0u32..).zip(&staff_contacts) {
            staff_positions.entry(contact.clone()).or_insert(position);
        }
        Ok(Arc::new(Program {
            graph,
            templates,
            patterns,
            staff_contacts,
            staff_positions,
        }))
    }

    /// The staff contact at this position of the program's list (see [`Program::staff_position`]).
    pub(crate) fn staff_contact(&self, position: u32) -> Option<&str> {
        self.staff_contacts
            .get(position as usize)
            .map(String::as_str)
    }

    /// Where `contact` is in the program's list of every office's staff: at `next`, when it is
    /// there (an office's staff asked in turn), or else where it first is.
    pub(crate) fn staff_position(&self, contact: &str, next: u32) -> Option<u32> {
        if self.staff_contact(next) == Some(contact) {
            Some(next)
        } else {
            self.staff_positions.get(contact).copied()
        }
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
