//! A small YAML writer for kong.yml: block style, keys in the order given (the caller
//! sorts lists), strings quoted only when plain YAML would misread them, multi-line
//! strings (Lua, PEM) as literal blocks. Deterministic by construction.

/// A YAML node.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
    Str(String),
    Int(i64),
    Bool(bool),
}

impl Node {
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Node)>) -> Node {
        Node::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
    pub fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }
    pub fn strs<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Node {
        Node::List(items.into_iter().map(|s| Node::Str(s.into())).collect())
    }
}

/// The document text.
pub fn to_string(root: &Node) -> String {
    let mut out = String::new();
    match root {
        Node::Map(entries) => write_entries(&mut out, entries, 0),
        other => {
            write_inline_or_block(&mut out, other, 0);
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_entries(out: &mut String, entries: &[(String, Node)], level: usize) {
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            indent(out, level);
        }
        out.push_str(&scalar(k));
        out.push(':');
        write_value(out, v, level);
    }
}

/// Writes what follows `key:` (or `- `), including the newline(s).
fn write_value(out: &mut String, v: &Node, level: usize) {
    match v {
        Node::Map(entries) if entries.is_empty() => out.push_str(" {}\n"),
        Node::List(items) if items.is_empty() => out.push_str(" []\n"),
        Node::Map(entries) => {
            out.push('\n');
            indent(out, level + 2);
            write_entries(out, entries, level + 2);
        }
        Node::List(items) => {
            out.push('\n');
            write_items(out, items, level);
        }
        other => {
            out.push(' ');
            write_inline_or_block(out, other, level);
        }
    }
}

fn write_items(out: &mut String, items: &[Node], level: usize) {
    for item in items {
        indent(out, level);
        out.push('-');
        match item {
            Node::Map(entries) if !entries.is_empty() => {
                out.push(' ');
                write_entries(out, entries, level + 2);
            }
            Node::List(inner) if !inner.is_empty() => {
                out.push('\n');
                write_items(out, inner, level + 2);
            }
            other => write_value(out, other, level + 2),
        }
    }
}

fn write_inline_or_block(out: &mut String, v: &Node, level: usize) {
    match v {
        Node::Str(s) if s.contains('\n') => {
            // Literal block; `|-` when there is no final newline to keep.
            let keep = if s.ends_with('\n') { "|" } else { "|-" };
            out.push_str(keep);
            out.push('\n');
            for line in s.trim_end_matches('\n').split('\n') {
                if !line.is_empty() {
                    indent(out, level + 2);
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        Node::Str(s) => {
            out.push_str(&scalar(s));
            out.push('\n');
        }
        Node::Int(i) => {
            out.push_str(&i.to_string());
            out.push('\n');
        }
        Node::Bool(b) => {
            out.push_str(if *b { "true" } else { "false" });
            out.push('\n');
        }
        Node::Map(_) | Node::List(_) => unreachable!("collections are written by write_value"),
    }
}

/// A one-line string: plain when it is a simple word or path YAML cannot misread
/// (`a.b.C`, `/usr/local/kong/x.proto`, `X-Request-Id`), else double-quoted.
fn scalar(s: &str) -> String {
    let simple = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '/')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c));
    let reserved = matches!(
        s.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
    );
    if simple && !reserved {
        s.to_owned()
    } else {
        serde_json::to_string(s).expect("strings serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_block_yaml_that_reads_back() {
        let doc = Node::map([
            ("_format_version", Node::str("3.0")),
            (
                "services",
                Node::List(vec![Node::map([
                    ("name", Node::str("a.b.C")),
                    ("port", Node::Int(50051)),
                    ("paths", Node::strs(["~/v1/x/[^/]+$"])),
                    ("empty", Node::List(vec![])),
                    ("on", Node::Bool(false)),
                    ("code", Node::str("local x = 1\nreturn x\n")),
                    ("nested", Node::map([("k", Node::str("true"))])),
                ])]),
            ),
        ]);
        let text = to_string(&doc);
        let back: serde_json::Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(back["_format_version"], "3.0");
        let svc = &back["services"][0];
        assert_eq!(svc["name"], "a.b.C");
        assert_eq!(svc["port"], 50051);
        assert_eq!(svc["paths"][0], "~/v1/x/[^/]+$");
        assert_eq!(svc["empty"], serde_json::json!([]));
        assert_eq!(svc["on"], false);
        assert_eq!(svc["code"], "local x = 1\nreturn x\n");
        assert_eq!(svc["nested"]["k"], "true");
    }
}
