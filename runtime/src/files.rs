//! Writing the user directory's small files (flows, credentials, sessions, editor user
//! settings) so a crash mid-write never leaves half a file.

use std::io::Write;
use std::path::Path;

/// Replaces `path` whole: the content goes to a temporary file beside it, which is synced
/// and renamed over the old one. `private` makes the file readable by its owner only (it
/// holds tokens or secrets).
pub fn replace(path: &Path, content: &[u8], private: bool) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let temp = path.with_file_name(format!(".{name}.$$$"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    let mut file = options.open(&temp)?;
    file.write_all(content)?;
    file.sync_all()?;
    std::fs::rename(&temp, path)
}

/// [`replace`], after copying the previous file to `.<name>.backup` beside it, as Node-RED's
/// localfilesystem keeps one for flows and credentials.
pub fn replace_with_backup(path: &Path, content: &[u8]) -> std::io::Result<()> {
    if path.exists() {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        std::fs::copy(path, path.with_file_name(format!(".{name}.backup")))?;
    }
    replace(path, content, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_keeps_one_backup_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("flows.json");
        replace_with_backup(&path, b"[1]").expect("first");
        replace_with_backup(&path, b"[2]").expect("second");
        assert_eq!(std::fs::read(&path).expect("file"), b"[2]");
        let backup = dir.path().join(".flows.json.backup");
        assert_eq!(std::fs::read(backup).expect("backup"), b"[1]");
        assert!(!dir.path().join(".flows.json.$$$").exists());
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".sessions.json");
        replace(&path, b"{}", true).expect("written");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
