//! Two async-graphql extensions the schema is built with.
//!
//! * [`NumericStrings`]: the original frontend's numeric strings where the
//!   schema says `Int`, accepted as graphql-java accepted them.
//! * [`LogErrors`]: every GraphQL error logged at `warn`. Errors are part
//!   of a 200 response in GraphQL, so the HTTP layer's log line (status and
//!   latency) says nothing about them; without this, a failing resolver
//!   would leave no trace at the default log level.
//!
//! Both run inside the HTTP request's tracing span, so their log lines
//! carry its request id.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextRequest,
};
use async_graphql::parser::types::{BaseType, DocumentOperations};
use async_graphql::{PathSegment, Request, Response, ServerResult, Value};

/// The `Int` fields of this schema's input types. The schema is small and
/// fixed, so a table beats walking async-graphql's (hidden) registry.
const INT_INPUT_FIELDS: &[(&str, &[&str])] = &[
    ("createItemInput", &["listId"]),
    ("moveItemInput", &["listId", "position"]),
];

/// Turns numeric strings into numbers wherever a variable is declared
/// `Int` (directly, in a list, or as an `Int` field of one of our input
/// types), before the request is validated.
///
/// The original frontend sends a list's `id`, a string such as `"2"`,
/// where the schema says `Int` (`createItemInput.listId`,
/// `moveItemInput.listId`), and graphql-java coerced it. async-graphql's
/// `Int` refuses strings, and its validation always uses the built-in
/// `Int`, so a look-alike scalar cannot help; rewriting the variables in
/// the `prepare_request` hook, which runs before parsing and validation,
/// can. Only variables need it: graphql-java did not coerce string
/// *literals* either. Anything else is left for validation to report.
#[derive(Debug, Clone, Copy)]
pub struct NumericStrings;

impl ExtensionFactory for NumericStrings {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(NumericStrings)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for NumericStrings {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        coerce_numeric_strings(&mut request);
        next.run(ctx, request).await
    }
}

/// Logs each error of a GraphQL response at `warn`, with its path (which
/// field failed) and message, and the operation's name. Database failures
/// are also logged where they happen, with the driver's error, at `error`.
#[derive(Debug, Clone, Copy)]
pub struct LogErrors;

impl ExtensionFactory for LogErrors {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LogErrors)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for LogErrors {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let response = next.run(ctx).await;
        for error in &response.errors {
            let path = error
                .path
                .iter()
                .map(|segment| match segment {
                    PathSegment::Field(name) => name.clone(),
                    PathSegment::Index(i) => i.to_string(),
                })
                .collect::<Vec<_>>()
                .join(".");
            tracing::warn!(path, message = %error.message, "GraphQL error");
        }
        response
    }
}

/// See [`NumericStrings`].
pub fn coerce_numeric_strings(request: &mut Request) {
    if request.variables.is_empty() {
        return; // the homepage query: nothing to do, no second parse
    }
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return; // the executor reports the syntax error
    };
    // A named operation parses as `Multiple` even when it is alone.
    let operation = match (&document.operations, &request.operation_name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name.as_str()) {
            Some(op) => op,
            None => return,
        },
        (DocumentOperations::Multiple(ops), None) => match ops.values().next() {
            Some(op) if ops.len() == 1 => op,
            _ => return,
        },
    };
    for definition in &operation.node.variable_definitions {
        let name = &definition.node.name.node;
        if let Some(value) = request.variables.get_mut(name) {
            coerce(&definition.node.var_type.node.base, value);
        }
    }
}

fn coerce(ty: &BaseType, value: &mut Value) {
    match (ty, value) {
        (BaseType::List(inner), Value::List(values)) => {
            for value in values {
                coerce(&inner.base, value);
            }
        }
        (BaseType::Named(name), value) if name.as_str() == "Int" => to_int(value),
        (BaseType::Named(name), Value::Object(fields)) => {
            let int_fields = INT_INPUT_FIELDS
                .iter()
                .find(|(input, _)| *input == name.as_str())
                .map_or(&[][..], |(_, fields)| *fields);
            for field in int_fields {
                if let Some(value) = fields.get_mut(*field) {
                    to_int(value);
                }
            }
        }
        _ => {}
    }
}

fn to_int(value: &mut Value) {
    if let Value::String(s) = value {
        if let Ok(n) = s.trim().parse::<i32>() {
            *value = Value::Number(n.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_strings_become_ints_where_the_schema_says_int() {
        let mut request = Request::new(
            "mutation m($input:createItemInput, $p:[Int], $id:ID!){ createItem(input:$input){id} }",
        )
        .variables(async_graphql::Variables::from_json(serde_json::json!({
            "input": {"name": "7", "listId": "2"},
            "p": ["1", 2, "x"],
            "id": "5",
        })));
        coerce_numeric_strings(&mut request);
        assert_eq!(
            request.variables.into_value().into_json().unwrap(),
            serde_json::json!({"input": {"name": "7", "listId": 2}, "p": [1, 2, "x"], "id": "5"})
        );
    }
}
