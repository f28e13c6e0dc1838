//! A minimal JSON writer (values built in code, printed once): enough for
//! `v4l2-request-va-info --json` without a serialisation dependency.

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(i64),
    Str(String),
    Arr(Vec<Json>),
    /// Keys in insertion order.
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn str(s: impl Into<String>) -> Self {
        Json::Str(s.into())
    }

    pub fn opt_str(s: Option<impl Into<String>>) -> Self {
        s.map_or(Json::Null, |s| Json::Str(s.into()))
    }

    pub fn strs<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Self {
        Json::Arr(items.into_iter().map(|s| Json::Str(s.into())).collect())
    }

    pub fn obj<const N: usize>(fields: [(&str, Json); N]) -> Self {
        Json::Obj(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// Pretty-printed with two-space indentation.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, indent: usize) {
        let pad = |out: &mut String, n: usize| out.push_str(&" ".repeat(n));
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => out.push_str(&n.to_string()),
            Json::Str(s) => escape(s, out),
            Json::Arr(items) if items.is_empty() => out.push_str("[]"),
            Json::Obj(fields) if fields.is_empty() => out.push_str("{}"),
            Json::Arr(items) => {
                out.push_str("[\n");
                for (i, v) in items.iter().enumerate() {
                    pad(out, indent + 2);
                    v.write(out, indent + 2);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                pad(out, indent);
                out.push(']');
            }
            Json::Obj(fields) => {
                out.push_str("{\n");
                for (i, (k, v)) in fields.iter().enumerate() {
                    pad(out, indent + 2);
                    escape(k, out);
                    out.push_str(": ");
                    v.write(out, indent + 2);
                    out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
                }
                pad(out, indent);
                out.push('}');
            }
        }
    }
}

fn escape(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_valid_json() {
        let v = Json::obj([
            ("a", Json::Num(-3)),
            ("s", Json::str("q\"\\\n\u{1}é")),
            ("n", Json::Null),
            ("e", Json::Arr(vec![])),
            ("l", Json::strs(["x", "y"])),
            ("o", Json::obj([("t", Json::Bool(true))])),
        ]);
        assert_eq!(
            v.pretty(),
            "{\n  \"a\": -3,\n  \"s\": \"q\\\"\\\\\\n\\u0001é\",\n  \"n\": null,\n  \"e\": [],\n  \"l\": [\n    \"x\",\n    \"y\"\n  ],\n  \"o\": {\n    \"t\": true\n  }\n}"
        );
    }
}
