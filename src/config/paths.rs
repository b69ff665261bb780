//! Where things are, once the configuration is understood: the database
//! (from `database_url` or the data directory), the media directory and
//! the VAPID key.
//!
//! Owns: resolving these paths and URLs. May not touch: the files
//! themselves — the services open them.

use super::{Config, ConfigError};
use std::path::PathBuf;

/// Where the database is, once the configuration is understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// The embedded SQLite database in this file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (cluster mode).
    Postgres(String),
}

impl Config {
    /// The database to use, from `database_url` or the data directory.
    pub fn database(&self) -> Result<Database, ConfigError> {
        let Some(url) = self.database_url.as_deref() else {
            return Ok(Database::Sqlite(self.data_dir.join("confab.db")));
        };
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(ConfigError::new("`database_url` sqlite:// needs a file path"));
            }
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Database::Postgres(url.to_string()));
        }
        // Never echo the URL: it may carry a password.
        Err(ConfigError::new("`database_url` must start with sqlite:// or postgres://"))
    }

    /// Where uploads live: `media.dir`, else `DATA_DIR/media`.
    pub fn media_dir(&self) -> PathBuf {
        self.media.dir.clone().unwrap_or_else(|| self.data_dir.join("media"))
    }

    /// The VAPID key file: `push.vapid_private_key_file`, else
    /// `DATA_DIR/vapid_private_key.pem` (generated on first start).
    pub fn vapid_key_file(&self) -> PathBuf {
        self.push
            .vapid_private_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("vapid_private_key.pem"))
    }
}
