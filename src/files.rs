//! Metadata files: the file layer of the fallback chain, and the file
//! formats and layout of the migration tools.
//!
//! Layout (the ADR's): one folder per type, one file per record, named
//! `<folder>/<name>.<type>.<ext>`, e.g. `objects/account.object.ts`,
//! `views/all_accounts.view.yaml`. The type and name come from the file
//! name; the folder only organises.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::definition::Definition;
use crate::error::{Error, Result};
use crate::validate;

/// A metadata file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// `.json`
    Json,
    /// `.yaml` / `.yml`
    Yaml,
    /// `.ts`: `export default { ... };`
    TypeScript,
}

impl FileFormat {
    /// The file extension written on export.
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Json => "json",
            FileFormat::Yaml => "yaml",
            FileFormat::TypeScript => "ts",
        }
    }

    /// The format named `json`, `yaml` or `typescript` (also `yml`, `ts`).
    pub fn from_name(name: &str) -> Result<FileFormat> {
        match name {
            "json" => Ok(FileFormat::Json),
            "yaml" | "yml" => Ok(FileFormat::Yaml),
            "typescript" | "ts" => Ok(FileFormat::TypeScript),
            other => Err(Error::validation(
                "format",
                format!("{other:?} is not one of json, yaml, typescript"),
            )),
        }
    }
}

/// The folder a type's files live in: the type's plural (`object` ->
/// `objects`, `policy` -> `policies`, `index` -> `indexes`).
pub fn folder_for(type_name: &str) -> String {
    let b = type_name.as_bytes();
    let ends = |s: &str| type_name.ends_with(s);
    if ends("s") || ends("x") || ends("ch") || ends("sh") || ends("z") {
        format!("{type_name}es")
    } else if b.len() > 1 && ends("y") && !b"aeiou".contains(&b[b.len() - 2]) {
        format!("{}ies", &type_name[..type_name.len() - 1])
    } else {
        format!("{type_name}s")
    }
}

/// The relative path of (type, name) in `format`.
pub fn file_path(type_name: &str, name: &str, format: FileFormat) -> String {
    format!(
        "{}/{name}.{type_name}.{}",
        folder_for(type_name),
        format.extension()
    )
}

/// Reads (type, name, format) from a metadata file path; `None` when the
/// file is not a metadata file (wrong shape or extension).
pub fn parse_path(path: &str) -> Option<(String, String, FileFormat)> {
    let file = path.rsplit(['/', '\\']).next()?;
    let (stem, ext) = file.rsplit_once('.')?;
    let format = match ext {
        "json" => FileFormat::Json,
        "yaml" | "yml" => FileFormat::Yaml,
        "ts" => FileFormat::TypeScript,
        _ => return None,
    };
    let (name, type_name) = stem.rsplit_once('.')?;
    if validate::type_name(type_name).is_err() || validate::name(name).is_err() {
        return None;
    }
    Some((type_name.to_owned(), name.to_owned(), format))
}

/// Parses a metadata file's text. The definition must be a JSON object;
/// errors are `VALIDATION` naming the path.
pub fn parse_file(path: &str, text: &str, format: FileFormat) -> Result<Value> {
    let fail = |msg: String| Error::validation("file", format!("{path}: {msg}"));
    if text.len() > validate::MAX_TEXT_BYTES {
        return Err(fail(format!(
            "{} bytes; a metadata file has at most {}",
            text.len(),
            validate::MAX_TEXT_BYTES
        )));
    }
    let value = match format {
        FileFormat::Json => {
            crate::json::parse(text).map_err(|e| fail(crate::json::error_message(&e)))?
        }
        #[cfg(feature = "yaml")]
        FileFormat::Yaml => crate::yaml::parse(text).map_err(fail)?,
        #[cfg(not(feature = "yaml"))]
        FileFormat::Yaml => return Err(yaml_left_out(path)),
        FileFormat::TypeScript => {
            let body = typescript_body(text).ok_or_else(|| {
                fail("expected `export default { ... };` with a JSON object literal".into())
            })?;
            crate::json::parse(body).map_err(|e| fail(crate::json::error_message(&e)))?
        }
    };
    validate::data(&value).map_err(|e| fail(e.to_string()))?;
    Ok(value)
}

/// The JSON body of `export default <body>;` (what [`render_file`] writes).
fn typescript_body(text: &str) -> Option<&str> {
    let mut rest = text.trim_start();
    // Leading line comments (a generated-file banner).
    while let Some(stripped) = rest.strip_prefix("//") {
        rest = stripped
            .split_once('\n')
            .map_or("", |(_, r)| r)
            .trim_start();
    }
    let body = rest.strip_prefix("export default")?.trim();
    let body = body.strip_suffix(';').unwrap_or(body).trim_end();
    Some(body)
}

/// The text of (type, name)'s file in `format`: deterministic (the
/// definition's own key order, two-space indent, final newline).
pub fn render_file(data: &Value, format: FileFormat) -> Result<String> {
    let render_err = |e: String| Error::validation("data", e);
    match format {
        FileFormat::Json => {
            let mut s =
                serde_json::to_string_pretty(data).map_err(|e| render_err(e.to_string()))?;
            s.push('\n');
            Ok(s)
        }
        #[cfg(feature = "yaml")]
        FileFormat::Yaml => Ok(crate::yaml::render(data)),
        #[cfg(not(feature = "yaml"))]
        FileFormat::Yaml => Err(yaml_left_out("a YAML file")),
        FileFormat::TypeScript => {
            let body = serde_json::to_string_pretty(data).map_err(|e| render_err(e.to_string()))?;
            Ok(format!("export default {body};\n"))
        }
    }
}

/// A build without the `yaml` feature (the browser module) neither reads
/// nor writes YAML files: it says so, naming the file and what it reads.
#[cfg(not(feature = "yaml"))]
fn yaml_left_out(what: &str) -> Error {
    Error::Unsupported {
        message: format!(
            "{what}: this build reads and writes no YAML (the browser module leaves the YAML reader out \
             to stay small); give the file as JSON (`.json`) or TypeScript (`.ts`, \
             `export default {{ ... }};`), or read it with the Node package"
        ),
    }
}

/// A source of file-based metadata: the third layer of the chain.
pub trait FileSource {
    /// A short name for diagnostics.
    fn kind(&self) -> &str;

    /// The definition of (type, name), if a file holds one.
    fn load(&self, type_name: &str, name: &str) -> Result<Option<Definition>>;

    /// Every definition of a type, ordered by name.
    fn list(&self, type_name: &str) -> Result<Vec<(String, Definition)>>;

    /// Writes (type, name)'s file (the "write both" migration phase).
    fn write(&self, type_name: &str, name: &str, data: &Value) -> Result<()> {
        let _ = (type_name, name, data);
        Err(Error::Unsupported {
            message: format!("file source '{}' is read-only", self.kind()),
        })
    }

    /// Removes (type, name)'s file.
    fn remove(&self, type_name: &str, name: &str) -> Result<()> {
        let _ = (type_name, name);
        Err(Error::Unsupported {
            message: format!("file source '{}' is read-only", self.kind()),
        })
    }
}

/// Metadata files held in memory: what a browser host provides, or a
/// folder read once.
#[derive(Debug, Default)]
pub struct FileBundle {
    docs: RefCell<BTreeMap<(String, String), Definition>>,
}

impl FileBundle {
    /// An empty bundle.
    pub fn new() -> Self {
        FileBundle::default()
    }

    /// A bundle from (path, text) pairs. Paths that are not metadata files
    /// are skipped; a metadata file that does not parse is an error naming
    /// it, as is the same (type, name) twice.
    pub fn from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let bundle = FileBundle::new();
        for (path, text) in files {
            let Some((type_name, name, format)) = parse_path(path) else {
                continue;
            };
            let value = parse_file(path, text, format)?;
            let key = (type_name, name);
            if bundle.docs.borrow().contains_key(&key) {
                return Err(Error::validation(
                    "file",
                    format!("{path}: {}/{} is defined by two files", key.0, key.1),
                ));
            }
            bundle
                .docs
                .borrow_mut()
                .insert(key, Definition::from_value(value)?);
        }
        Ok(bundle)
    }

    /// Reads every metadata file under `root` (recursively).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_dir(root: &std::path::Path) -> Result<Self> {
        let mut files = Vec::new();
        collect_files(root, root, &mut files)?;
        FileBundle::from_files(files.iter().map(|(p, t)| (p.as_str(), t.as_str())))
    }

    /// Number of definitions.
    pub fn len(&self) -> usize {
        self.docs.borrow().len()
    }

    /// True when the bundle is empty.
    pub fn is_empty(&self) -> bool {
        self.docs.borrow().is_empty()
    }

    /// Every (type, name, definition), ordered by type then name.
    pub fn entries(&self) -> Vec<(String, String, Definition)> {
        self.docs
            .borrow()
            .iter()
            .map(|((t, n), v)| (t.clone(), n.clone(), v.clone()))
            .collect()
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn collect_files(
    root: &std::path::Path,
    dir: &std::path::Path,
    out: &mut Vec<(String, String)>,
) -> Result<()> {
    let io = |e: std::io::Error| Error::Storage {
        message: format!("{}: {e}", dir.display()),
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<std::result::Result<_, _>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if entry.file_type().map_err(io)?.is_dir() {
            collect_files(root, &path, out)?;
        } else if let Some(p) = path.to_str() {
            if parse_path(p).is_some() {
                let text = std::fs::read_to_string(&path).map_err(io)?;
                let rel = path.strip_prefix(root).unwrap_or(&path);
                out.push((rel.to_string_lossy().into_owned(), text));
            }
        }
    }
    Ok(())
}

impl FileSource for FileBundle {
    fn kind(&self) -> &str {
        "bundle"
    }

    fn load(&self, type_name: &str, name: &str) -> Result<Option<Definition>> {
        Ok(self
            .docs
            .borrow()
            .get(&(type_name.to_owned(), name.to_owned()))
            .cloned())
    }

    fn list(&self, type_name: &str) -> Result<Vec<(String, Definition)>> {
        Ok(self
            .docs
            .borrow()
            .iter()
            .filter(|((t, _), _)| t == type_name)
            .map(|((_, n), v)| (n.clone(), v.clone()))
            .collect())
    }

    fn write(&self, type_name: &str, name: &str, data: &Value) -> Result<()> {
        let definition = Definition::from_value(data.clone())?;
        self.docs
            .borrow_mut()
            .insert((type_name.to_owned(), name.to_owned()), definition);
        Ok(())
    }

    fn remove(&self, type_name: &str, name: &str) -> Result<()> {
        self.docs
            .borrow_mut()
            .remove(&(type_name.to_owned(), name.to_owned()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_round_trips() {
        assert_eq!(folder_for("object"), "objects");
        assert_eq!(folder_for("policy"), "policies");
        assert_eq!(folder_for("day"), "days");
        assert_eq!(folder_for("index"), "indexes");
        let p = file_path("view", "all_accounts", FileFormat::Yaml);
        assert_eq!(p, "views/all_accounts.view.yaml");
        assert_eq!(
            parse_path(&p),
            Some(("view".into(), "all_accounts".into(), FileFormat::Yaml))
        );
        assert_eq!(parse_path("views/readme.md"), None);
        assert_eq!(parse_path("views/Bad-Name.view.json"), None);
    }
}
