//! Turns `locales/*.toml` into `Lang` and `Key` enums and one table of
//! strings (see `src/i18n.rs`). A new language is one more file here: the
//! build fails, naming the keys, if it lacks a key English has, has one
//! English lacks, or drops a `{placeholder}`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

const SOURCE_LANGUAGE: &str = "en";

fn main() {
    let dir = Path::new("locales");
    println!("cargo:rerun-if-changed=locales");
    let mut locales: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("app/locales exists") {
        let path = entry.expect("readable locales dir").path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let code = path.file_stem().unwrap().to_string_lossy().to_string();
        assert!(
            code.len() >= 2 && code.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "{}: name locale files by language code, like fr.toml or pt-br.toml",
            path.display()
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let table: toml::Table = toml::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not valid TOML: {e}", path.display()));
        let strings = table
            .into_iter()
            .map(|(k, v)| match v {
                toml::Value::String(s) => (k, s),
                other => panic!("{}: {k} must be a string, not {other}", path.display()),
            })
            .collect();
        locales.insert(code, strings);
    }
    let source = locales
        .get(SOURCE_LANGUAGE)
        .expect("locales/en.toml is the reference language");
    let keys: Vec<&String> = source.keys().filter(|k| !k.starts_with('_')).collect();
    for (code, strings) in &locales {
        let missing: Vec<_> = source
            .keys()
            .filter(|k| !strings.contains_key(*k))
            .collect();
        let extra: Vec<_> = strings
            .keys()
            .filter(|k| !source.contains_key(*k))
            .collect();
        assert!(missing.is_empty(), "locales/{code}.toml lacks {missing:?}");
        assert!(
            extra.is_empty(),
            "locales/{code}.toml has unknown keys {extra:?}"
        );
        for key in &keys {
            assert_eq!(
                placeholders(&source[*key]),
                placeholders(&strings[*key]),
                "locales/{code}.toml: {key} must use the same {{placeholders}} as English"
            );
        }
    }

    let variant = |code: &str| camel(code);
    let mut out = String::new();
    out.push_str(
        "/// A language Visita speaks: one per file in `app/locales/`.\n\
         #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]\n\
         pub enum Lang {\n",
    );
    for code in locales.keys() {
        if code == SOURCE_LANGUAGE {
            out.push_str("    #[default]\n");
        }
        writeln!(
            out,
            "    #[serde(rename = \"{code}\")]\n    {},",
            variant(code)
        )
        .unwrap();
    }
    out.push_str("}\n\nimpl Lang {\n    pub const ALL: &'static [Lang] = &[");
    for code in locales.keys() {
        write!(out, "Lang::{}, ", variant(code)).unwrap();
    }
    out.push_str("];\n\n    /// The language code (`en`, `fr`).\n    pub fn code(self) -> &'static str {\n        match self {\n");
    for code in locales.keys() {
        writeln!(out, "            Lang::{} => {code:?},", variant(code)).unwrap();
    }
    out.push_str("        }\n    }\n\n    /// The language's name in itself (`Français`).\n    pub fn native_name(self) -> &'static str {\n        match self {\n");
    for (code, strings) in &locales {
        let name = strings
            .get("_name")
            .unwrap_or_else(|| panic!("locales/{code}.toml needs _name, the language's own name"));
        writeln!(out, "            Lang::{} => {name:?},", variant(code)).unwrap();
    }
    out.push_str("        }\n    }\n\n    fn index(self) -> usize {\n        match self {\n");
    for (i, code) in locales.keys().enumerate() {
        writeln!(out, "            Lang::{} => {i},", variant(code)).unwrap();
    }
    out.push_str("        }\n    }\n}\n\n");

    out.push_str(
        "/// Every piece of text Visita shows in a patient's language.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\npub enum Key {\n",
    );
    for key in &keys {
        writeln!(out, "    {},", camel(key)).unwrap();
    }
    out.push_str("}\n\n");
    writeln!(
        out,
        "static TEXTS: [[&str; {}]; {}] = [",
        keys.len(),
        locales.len()
    )
    .unwrap();
    for strings in locales.values() {
        out.push_str("    [\n");
        for key in &keys {
            writeln!(out, "        {:?},", strings[*key]).unwrap();
        }
        out.push_str("    ],\n");
    }
    out.push_str("];\n\n/// The text of `key` in `lang`.\npub fn text(lang: Lang, key: Key) -> &'static str {\n    TEXTS[lang.index()][key as usize]\n}\n");

    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("i18n.rs");
    std::fs::write(dest, out).unwrap();
}

fn camel(name: &str) -> String {
    name.split(['_', '-'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            let first = chars.next().unwrap().to_ascii_uppercase();
            std::iter::once(first).chain(chars).collect::<String>()
        })
        .collect()
}

fn placeholders(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        found.insert(rest[start + 1..start + len].to_string());
        rest = &rest[start + len + 1..];
    }
    found
}
