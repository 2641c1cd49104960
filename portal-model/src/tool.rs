//! What a tool is, and how a request body becomes one.
//!
//! The body is deserialized into [`ToolBody`], a struct that names every
//! field a tool has and refuses any other (`deny_unknown_fields`); the
//! rules serde cannot express (lengths, URL schemes, control characters)
//! are checked after. Two things follow:
//!
//! * every rejection names the offending field (`tags[2]`), which the UI
//!   uses to highlight the input: `serde_path_to_error` reports where in
//!   the body a type error is, and our own rules name their field;
//! * nothing shaped like a MongoDB operator gets through by accident: an
//!   unknown key such as `$where` is refused, and a value such as
//!   `{"$gt": ""}` where a string belongs is refused. Strings that merely
//!   *look* like operators (`"$where"`) are ordinary text and are stored as
//!   such; the store only ever puts them into documents as values.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest name, in characters.
pub const MAX_NAME: usize = 100;
/// Longest URL, in characters.
pub const MAX_URL: usize = 2048;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 2000;
/// Most tags on one tool.
pub const MAX_TAGS: usize = 10;
/// Longest tag, in characters.
pub const MAX_TAG: usize = 32;

/// A stored tool, as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tool {
    /// Opaque id: 24 hex digits (a MongoDB ObjectId, in both stores).
    pub id: String,
    #[serde(flatten)]
    pub fields: ToolFields,
}

/// A tool's fields, validated: what create and update store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolFields {
    pub name: String,
    /// An absolute http or https URL, as the URL parser normalized it.
    pub url: String,
    pub description: String,
    pub tags: Vec<String>,
}

impl ToolFields {
    /// The text `?q=` searches: name, description and tags, lower-cased.
    /// Both stores search this one string, so search behaves the same in
    /// both. The separator cannot occur in any field (control characters
    /// other than newline and tab are refused), so a query never matches
    /// across two fields.
    pub fn search_text(&self) -> String {
        let mut text =
            String::with_capacity(self.name.len() + self.description.len() + self.tags.len() * 8);
        text.push_str(&self.name.to_lowercase());
        text.push('\u{1f}');
        text.push_str(&self.description.to_lowercase());
        for tag in &self.tags {
            text.push('\u{1f}');
            text.push_str(&tag.to_lowercase());
        }
        text
    }

    /// What lists are sorted by: the name, ignoring case.
    pub fn sort_key(&self) -> String {
        self.name.to_lowercase()
    }
}

/// A request that breaks a rule, and which field broke it (`None` when it
/// is the body as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: Option<String>,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn body(message: impl Into<String>) -> Self {
        Self {
            field: None,
            message: message.into(),
        }
    }
}

/// A create or update body as sent: every field may be missing or null
/// here, so that "required" is our rule with our message, not serde's.
/// `id` is accepted and ignored, so a client can send back a tool it
/// received (the URL names the tool to update, never the body).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolBody {
    #[serde(default)]
    #[allow(dead_code)] // read only to be accepted
    id: Option<IgnoredAny>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// Check a create or update body and turn it into [`ToolFields`].
///
/// `name` and `url` are required; `description` and `tags` may be missing
/// or null.
pub fn validate(body: Value) -> Result<ToolFields, FieldError> {
    if !body.is_object() {
        return Err(FieldError::body(
            "the request body must be a JSON object with name, url, description and tags",
        ));
    }
    let body: ToolBody = serde_path_to_error::deserialize(body).map_err(|err| {
        // The path is `.` only for the body as a whole, which is an object
        // here; every other error sits at a field (`name`, `tags[1]`, or
        // the unknown key itself).
        let field = err.path().to_string();
        let message = format!("{field}: {}", err.inner());
        FieldError::new(field, message)
    })?;

    let name = body
        .name
        .ok_or_else(|| FieldError::new("name", "name is required"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(FieldError::new("name", "name must not be empty"));
    }
    check_length("name", name, MAX_NAME)?;
    check_single_line("name", name)?;

    let url = body
        .url
        .ok_or_else(|| FieldError::new("url", "url is required"))?;
    let url = validate_url(url.trim())?;

    let description = body.description.unwrap_or_default();
    let description = description.trim();
    check_length("description", description, MAX_DESCRIPTION)?;
    if description
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(FieldError::new(
            "description",
            "description must not contain control characters",
        ));
    }

    let tags = validate_tags(body.tags.unwrap_or_default())?;

    Ok(ToolFields {
        name: name.to_owned(),
        url,
        description: description.to_owned(),
        tags,
    })
}

fn check_length(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(())
}

fn check_single_line(field: &str, value: &str) -> Result<(), FieldError> {
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            format!("{field} must not contain control characters or line breaks"),
        ));
    }
    Ok(())
}

/// Only absolute http and https URLs: the UI makes every tool a link, and a
/// `javascript:` or `data:` URL there would run code in the portal's page.
fn validate_url(raw: &str) -> Result<String, FieldError> {
    if raw.is_empty() {
        return Err(FieldError::new("url", "url is required"));
    }
    check_length("url", raw, MAX_URL)?;
    let parsed = url::Url::parse(raw)
        .map_err(|_| FieldError::new("url", "url must be an absolute http or https URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(FieldError::new(
            "url",
            format!("url must use http or https, not `{}`", parsed.scheme()),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(FieldError::new("url", "url must name a host"));
    }
    // Store what the parser made of it: the exact string that was checked is
    // the string browsers will follow.
    let normalized = parsed.to_string();
    check_length("url", &normalized, MAX_URL)?;
    Ok(normalized)
}

/// Tags: trimmed, non-empty, single-line, bounded; duplicates dropped
/// (first one wins, order kept).
fn validate_tags(items: Vec<String>) -> Result<Vec<String>, FieldError> {
    if items.len() > MAX_TAGS {
        return Err(FieldError::new("tags", format!("at most {MAX_TAGS} tags")));
    }
    let mut tags: Vec<String> = Vec::with_capacity(items.len());
    for (i, tag) in items.iter().enumerate() {
        let field = format!("tags[{i}]");
        let tag = tag.trim();
        if tag.is_empty() {
            return Err(FieldError::new(field, "tags must not be empty"));
        }
        check_length(&field, tag, MAX_TAG)?;
        check_single_line(&field, tag)?;
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_owned());
        }
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(body: Value) -> Option<String> {
        validate(body).expect_err("should be refused").field
    }

    #[test]
    fn a_full_tool_is_trimmed_and_normalized() {
        let fields = validate(json!({
            "name": "  Grafana ",
            "url": "HTTPS://Grafana.Example.com",
            "description": " dashboards\n",
            "tags": ["ops", " metrics ", "ops"],
        }))
        .unwrap();
        assert_eq!(fields.name, "Grafana");
        assert_eq!(fields.url, "https://grafana.example.com/");
        assert_eq!(fields.description, "dashboards");
        assert_eq!(fields.tags, ["ops", "metrics"]);
    }

    #[test]
    fn description_and_tags_are_optional_and_id_is_ignored() {
        let fields =
            validate(json!({"id": "x", "name": "a", "url": "http://a", "tags": null})).unwrap();
        assert_eq!(fields.description, "");
        assert!(fields.tags.is_empty());
    }

    #[test]
    fn each_rule_names_its_field() {
        assert_eq!(field_of(json!([])), None);
        assert_eq!(
            field_of(json!({"url": "http://a"})).as_deref(),
            Some("name")
        );
        assert_eq!(
            field_of(json!({"name": " ", "url": "http://a"})).as_deref(),
            Some("name")
        );
        let long = "x".repeat(MAX_NAME + 1);
        assert_eq!(
            field_of(json!({"name": long, "url": "http://a"})).as_deref(),
            Some("name")
        );
        assert_eq!(
            field_of(json!({"name": "a\nb", "url": "http://a"})).as_deref(),
            Some("name")
        );
        for url in [
            "",
            "example.com",
            "ftp://x",
            "javascript:alert(1)",
            "data:text/html,x",
            "http://",
        ] {
            assert_eq!(
                field_of(json!({"name": "a", "url": url})).as_deref(),
                Some("url"),
                "{url}"
            );
        }
        assert_eq!(
            field_of(json!({"name": "a", "url": "http://a", "description": 5})).as_deref(),
            Some("description")
        );
        assert_eq!(
            field_of(json!({"name": "a", "url": "http://a", "tags": "x"})).as_deref(),
            Some("tags")
        );
        assert_eq!(
            field_of(json!({"name": "a", "url": "http://a", "tags": ["ok", 1]})).as_deref(),
            Some("tags[1]")
        );
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| i.to_string()).collect();
        assert_eq!(
            field_of(json!({"name": "a", "url": "http://a", "tags": many})).as_deref(),
            Some("tags")
        );
    }

    #[test]
    fn operator_shapes_are_refused_or_plain_text() {
        assert_eq!(
            field_of(json!({"name": {"$gt": ""}, "url": "http://a"})).as_deref(),
            Some("name")
        );
        assert_eq!(
            field_of(json!({"name": "a", "url": "http://a", "$where": "sleep(1000)"})).as_deref(),
            Some("$where")
        );
        let fields =
            validate(json!({"name": "$where", "url": "http://a", "tags": ["$ne"]})).unwrap();
        assert_eq!(fields.name, "$where");
        assert_eq!(fields.tags, ["$ne"]);
    }

    #[test]
    fn search_text_covers_all_fields_in_lower_case() {
        let fields =
            validate(json!({"name": "Ab", "url": "http://a", "description": "Cd", "tags": ["Ef"]}))
                .unwrap();
        assert_eq!(fields.search_text(), "ab\u{1f}cd\u{1f}ef");
        assert_eq!(fields.sort_key(), "ab");
    }
}
