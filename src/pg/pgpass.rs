//! Password lookup in a libpq password file (`~/.pgpass` or `PGPASSFILE`).

use std::path::Path;

/// The password of the first line matching host, port, database and user, as libpq matches:
/// fields are `hostname:port:database:username:password`, `*` matches anything, `\` escapes
/// `:` and `\`. A Unix-socket host matches the word `localhost`, as in libpq.
pub fn lookup(contents: &str, host: &str, port: u16, dbname: &str, user: &str) -> Option<String> {
    let host = if host.starts_with('/') {
        "localhost"
    } else {
        host
    };
    let port = port.to_string();
    let wanted = [host, port.as_str(), dbname, user];
    contents
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(split_fields)
        .find(|fields| {
            fields[..4]
                .iter()
                .zip(wanted)
                .all(|(field, want)| field == "*" || field == want)
        })
        .map(|mut fields| fields.swap_remove(4))
}

fn split_fields(line: &str) -> Option<Vec<String>> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut()?.push(chars.next().unwrap_or('\\')),
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => fields.last_mut()?.push(c),
        }
    }
    (fields.len() == 5).then_some(fields)
}

/// Reads the file if it is private to its owner; libpq ignores a group- or world-readable one.
pub fn read(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# comment
db1.example:5432:app:alice:s3cret
*:5433:*:bob:pa\\:ss
localhost:*:*:carol:c\\\\pw
";

    #[test]
    fn exact_and_wildcard_matches() {
        assert_eq!(
            lookup(FILE, "db1.example", 5432, "app", "alice").as_deref(),
            Some("s3cret")
        );
        assert_eq!(
            lookup(FILE, "anyhost", 5433, "x", "bob").as_deref(),
            Some("pa:ss")
        );
        assert_eq!(lookup(FILE, "db1.example", 5433, "app", "alice"), None);
    }

    #[test]
    fn unix_socket_matches_localhost_and_backslash_escapes() {
        assert_eq!(
            lookup(FILE, "/var/run/postgresql", 5432, "d", "carol").as_deref(),
            Some("c\\pw")
        );
    }

    #[test]
    fn short_lines_are_ignored() {
        assert_eq!(lookup("a:b:c\n", "a", 1, "c", "d"), None);
    }

    #[test]
    fn a_readable_by_others_file_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("pgpass-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pgpass");
        std::fs::write(&path, FILE).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read(&path).is_none());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read(&path).is_some());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
