//! The proto bundle Kong's grpc-gateway reads: `config.proto` names one file, and Kong
//! resolves its imports only against that file's own directory, `/usr/local/kong/include`
//! (which ships `google/protobuf/*`) and `/usr/include`. So beside each service's proto
//! the bundle repeats every file it imports (transitively, `google/api/*` included) at its
//! import path: `expense_tracker/ds/v1/expense_tracker/expense/v1/expense.proto`.
//! lua-protobuf 0.5.2 (Kong 3.9's) treats every plain import as public, so the services of
//! an imported file are registered too: route templates must never overlap across files.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use prost_reflect::{FileDescriptor, ServiceDescriptor};

use super::KongError;

/// Files Kong already has under /usr/local/kong/include.
fn shipped_by_kong(name: &str) -> bool {
    name.starts_with("google/protobuf/")
}

/// Bundle path → contents, for the given services.
pub fn bundle<'a>(
    proto_root: &Path,
    services: impl IntoIterator<Item = &'a ServiceDescriptor>,
) -> Result<BTreeMap<PathBuf, Vec<u8>>, KongError> {
    let mut out = BTreeMap::new();
    for service in services {
        let file = service.parent_file();
        let dir = Path::new(file.name())
            .parent()
            .unwrap_or(Path::new(""))
            .to_owned();
        out.insert(PathBuf::from(file.name()), read(proto_root, file.name())?);
        let mut deps = BTreeMap::new();
        collect_deps(&file, &mut deps);
        for name in deps.keys() {
            out.insert(dir.join(name), read(proto_root, name)?);
        }
    }
    Ok(out)
}

fn collect_deps(file: &FileDescriptor, acc: &mut BTreeMap<String, ()>) {
    for dep in file.dependencies() {
        if shipped_by_kong(dep.name()) || acc.contains_key(dep.name()) {
            continue;
        }
        acc.insert(dep.name().to_owned(), ());
        collect_deps(&dep, acc);
    }
}

fn read(root: &Path, name: &str) -> Result<Vec<u8>, KongError> {
    let path = root.join(name);
    std::fs::read(&path).map_err(|source| KongError::Read { path, source })
}

/// Writes the bundle under `out`, removing `.proto` files that are no longer part of it.
pub fn write(out: &Path, files: &BTreeMap<PathBuf, Vec<u8>>) -> std::io::Result<()> {
    for existing in list(out)? {
        if !files.contains_key(&existing) {
            std::fs::remove_file(out.join(&existing))?;
        }
    }
    for (rel, bytes) in files {
        let path = out.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            std::fs::write(&path, bytes)?;
        }
    }
    Ok(())
}

/// Every `.proto` under `dir`, relative to it.
pub fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    fn walk(base: &Path, dir: &Path, acc: &mut Vec<PathBuf>) -> std::io::Result<()> {
        if !dir.exists() {
            return Ok(());
        }
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(base, &path, acc)?;
            } else if path.extension().is_some_and(|e| e == "proto") {
                acc.push(path.strip_prefix(base).expect("under base").to_owned());
            }
        }
        Ok(())
    }
    let mut acc = vec![];
    walk(dir, dir, &mut acc)?;
    acc.sort();
    Ok(acc)
}
