//! The state directory's database: the model, written in one transaction before a
//! mutating call is answered.
//!
//! redb: an embedded, pure-Rust, ACID key-value store (copy-on-write B-trees, crash-safe
//! commits). The model is small and changes a call at a time, so it is stored whole, as
//! JSON, under one key: a commit either has the new model or the old one, never half.
//! (SQLite would add a C library build for what one key does.)

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, TableDefinition};
use vpclab_model::Model;

const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");
const MODEL_KEY: &str = "model";
/// The database file inside the state directory.
pub const FILE: &str = "vpclab.redb";

/// An open state database.
pub struct Store {
    /// `None` only between a failed commit and a successful reopen.
    db: Option<Database>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Errors of the store, as text for the operator.
pub type StoreError = String;

impl Store {
    /// Opens (creating if needed) the database in `dir`, and reads the model it holds.
    pub fn open(dir: &Path) -> Result<(Self, Option<Model>), StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(FILE);
        let db = Database::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let store = Self { db: Some(db), path };
        let model = store.load()?;
        Ok((store, model))
    }

    fn db(&self) -> Result<&Database, StoreError> {
        self.db
            .as_ref()
            .ok_or_else(|| format!("{}: the database could not be reopened", self.path.display()))
    }

    fn load(&self) -> Result<Option<Model>, StoreError> {
        let txn = self.db()?.begin_read().map_err(|e| e.to_string())?;
        let table = match txn.open_table(STATE) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        match table.get(MODEL_KEY).map_err(|e| e.to_string())? {
            Some(bytes) => serde_json::from_slice(bytes.value()).map(Some).map_err(|e| {
                format!("{}: the stored model is unreadable: {e}", self.path.display())
            }),
            None => Ok(None),
        }
    }

    /// Writes `model`, durably, in one transaction: after an error the store holds the
    /// model of the last successful call, never part of this one.
    ///
    /// A failed commit (a full or failing disk) leaves redb's handle refusing everything
    /// until the database is opened again, which checks the file and rolls back to the
    /// last commit; so a failure reopens it at once, and the next call, once there is
    /// room, succeeds without a restart.
    pub fn save(&mut self, model: &Model) -> Result<(), StoreError> {
        let json = serde_json::to_vec(model).map_err(|e| e.to_string())?;
        self.save_json(&json)
    }

    /// [`Store::save`] of a model its caller has already serialized (with
    /// `serde_json::to_vec`), to use the bytes twice.
    pub fn save_json(&mut self, json: &[u8]) -> Result<(), StoreError> {
        let result = self.commit(json);
        if result.is_err() {
            self.db = None; // Closes it: redb opens one handle per file at a time.
            self.db = Database::create(&self.path).ok();
        }
        result
    }

    fn commit(&self, bytes: &[u8]) -> Result<(), StoreError> {
        let txn = self.db()?.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = txn.open_table(STATE).map_err(|e| e.to_string())?;
            table.insert(MODEL_KEY, bytes).map_err(|e| e.to_string())?;
        }
        txn.commit().map_err(|e| e.to_string())
    }
}
