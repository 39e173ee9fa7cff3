//! The diagnostics' Fluent resources (`locales/en`, `locales/it`): both parse, and every message
//! exists in both languages with the same attributes and the same variables (except `gender`,
//! which only languages whose words agree with it use).

use std::collections::{BTreeMap, BTreeSet};

use centralino_compiler::Lang;
use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};

/// Every message: its attributes and the variables its value and attributes use.
type Messages = BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>;

fn inline_variables(expression: &InlineExpression<&str>, out: &mut BTreeSet<String>) {
    match expression {
        InlineExpression::VariableReference { id } => {
            out.insert(id.name.to_owned());
        }
        InlineExpression::Placeable { expression } => expression_variables(expression, out),
        InlineExpression::FunctionReference { arguments, .. }
        | InlineExpression::TermReference {
            arguments: Some(arguments),
            ..
        } => {
            for argument in &arguments.positional {
                inline_variables(argument, out);
            }
            for argument in &arguments.named {
                inline_variables(&argument.value, out);
            }
        }
        _ => {}
    }
}

fn expression_variables(expression: &Expression<&str>, out: &mut BTreeSet<String>) {
    match expression {
        Expression::Inline(inline) => inline_variables(inline, out),
        Expression::Select { selector, variants } => {
            inline_variables(selector, out);
            for variant in variants {
                pattern_variables(&variant.value, out);
            }
        }
    }
}

fn pattern_variables(pattern: &Pattern<&str>, out: &mut BTreeSet<String>) {
    for element in &pattern.elements {
        if let PatternElement::Placeable { expression } = element {
            expression_variables(expression, out);
        }
    }
}

fn messages(lang: Lang) -> Messages {
    let resource = match fluent_syntax::parser::parse(lang.resource()) {
        Ok(resource) => resource,
        Err((_, errors)) => panic!("locales/{lang}/diagnostics.ftl does not parse: {errors:?}"),
    };
    let mut messages = Messages::new();
    for entry in resource.body {
        let Entry::Message(message) = entry else {
            continue;
        };
        let mut variables = BTreeSet::new();
        if let Some(value) = &message.value {
            pattern_variables(value, &mut variables);
        }
        let mut attributes = BTreeSet::new();
        for attribute in &message.attributes {
            attributes.insert(attribute.id.name.to_owned());
            pattern_variables(&attribute.value, &mut variables);
        }
        variables.remove("gender");
        let id = message.id.name.to_owned();
        assert!(
            messages
                .insert(id.clone(), (attributes, variables))
                .is_none(),
            "locales/{lang}: message `{id}` is written twice"
        );
    }
    messages
}

#[test]
fn every_message_in_both_languages_with_the_same_variables() {
    let english = messages(Lang::En);
    let italian = messages(Lang::It);
    assert!(english.len() > 100, "the English resource looks truncated");
    let only_english: Vec<_> = english
        .keys()
        .filter(|k| !italian.contains_key(*k))
        .collect();
    let only_italian: Vec<_> = italian
        .keys()
        .filter(|k| !english.contains_key(*k))
        .collect();
    assert!(
        only_english.is_empty() && only_italian.is_empty(),
        "messages only in English: {only_english:?}; only in Italian: {only_italian:?}"
    );
    for (id, (attributes, variables)) in &english {
        let (it_attributes, it_variables) = &italian[id];
        assert_eq!(attributes, it_attributes, "attributes of `{id}`");
        assert_eq!(variables, it_variables, "variables of `{id}`");
    }
}
