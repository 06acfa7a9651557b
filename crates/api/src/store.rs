//! The state directory's database: the model, written in one transaction before a
//! mutating call is answered.
//!
//! redb: an embedded, pure-Rust, ACID key-value store (copy-on-write B-trees, crash-safe
//! commits). The model is stored as its records (see [`vpclab_model::Record`]): one per
//! resource, keyed by field and id, so a call writes the resources it changed — with
//! thousands of instances, writing the whole model each call was most of a call's
//! time. A commit holds all of a call's records or none: the store has the new model
//! or the old one, never half. (SQLite would add a C library build for what a table
//! does.)
//!
//! State directories from before records hold the model whole, as JSON under one key
//! of the `state` table; they are read as they are and rewritten as records at their
//! first save.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use vpclab_model::{Model, Record};

/// The model's records: (field, id) to JSON.
const RECORDS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("records");
/// Before records: the whole model as JSON under [`MODEL_KEY`].
const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");
const MODEL_KEY: &str = "model";
/// The database file inside the state directory.
pub const FILE: &str = "vpclab.redb";

/// An open state database.
pub struct Store {
    /// `None` only between a failed commit and a successful reopen.
    db: Option<Database>,
    path: PathBuf,
    /// Whether the database holds the model as records, whole, so that a change can be
    /// written as the records it changed (false: empty, or the model stored whole).
    records: bool,
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
        let mut store = Self { db: Some(db), path, records: false };
        let model = store.load()?;
        Ok((store, model))
    }

    fn db(&self) -> Result<&Database, StoreError> {
        self.db
            .as_ref()
            .ok_or_else(|| format!("{}: the database could not be reopened", self.path.display()))
    }

    /// The model the database holds: its records, or the whole model of an older
    /// state directory.
    fn load(&mut self) -> Result<Option<Model>, StoreError> {
        let unreadable = |e: String| format!("{}: {e}", self.path.display());
        let txn = self.db()?.begin_read().map_err(|e| e.to_string())?;
        match txn.open_table(RECORDS) {
            Ok(table) => {
                let mut records = Vec::new();
                for row in table.iter().map_err(|e| e.to_string())? {
                    let (key, value) = row.map_err(|e| e.to_string())?;
                    let (field, id) = key.value();
                    records.push((field.to_owned(), id.to_owned(), value.value().to_vec()));
                }
                if !records.is_empty() {
                    let model = Model::from_records(
                        records.iter().map(|(f, k, v)| (f.as_str(), k.as_str(), v.as_slice())),
                    )
                    .map_err(unreadable)?;
                    self.records = true;
                    return Ok(Some(model));
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.to_string()),
        }
        let table = match txn.open_table(STATE) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        match table.get(MODEL_KEY).map_err(|e| e.to_string())? {
            Some(bytes) => serde_json::from_slice(bytes.value())
                .map(Some)
                .map_err(|e| unreadable(format!("the stored model is unreadable: {e}"))),
            None => Ok(None),
        }
    }

    /// Writes `model`, durably, whole, in one transaction: after an error the store
    /// holds the model of the last successful call, never part of this one.
    ///
    /// A failed commit (a full or failing disk) leaves redb's handle refusing everything
    /// until the database is opened again, which checks the file and rolls back to the
    /// last commit; so a failure reopens it at once, and the next call, once there is
    /// room, succeeds without a restart.
    pub fn save(&mut self, model: &Model) -> Result<(), StoreError> {
        let records = model.records()?;
        self.write(&records, true)
    }

    /// Writes `new`, which the last save or change stored as `old`, as the records
    /// that differ between them (all of them, the first time after a whole model or
    /// none was stored). Durable and all or nothing, as [`Store::save`].
    pub fn save_change(&mut self, old: &Model, new: &Model) -> Result<(), StoreError> {
        if !self.records {
            return self.save(new);
        }
        let records = new.changes_since(old)?;
        if records.is_empty() {
            return Ok(());
        }
        self.write(&records, false)
    }

    /// Commits `records`, over the records stored (`whole`: in place of all of them).
    fn write(&mut self, records: &[Record], whole: bool) -> Result<(), StoreError> {
        let result = self.commit(records, whole);
        match &result {
            Ok(()) => self.records = true,
            Err(_) => {
                self.db = None; // Closes it: redb opens one handle per file at a time.
                self.db = Database::create(&self.path).ok();
            }
        }
        result
    }

    fn commit(&self, records: &[Record], whole: bool) -> Result<(), StoreError> {
        let e = |e: redb::Error| e.to_string();
        let txn = self.db()?.begin_write().map_err(|x| e(x.into()))?;
        {
            if whole {
                // Clears both forms: no record of an earlier model, no model whole.
                txn.delete_table(RECORDS).map_err(|x| e(x.into()))?;
                txn.delete_table(STATE).map_err(|x| e(x.into()))?;
            }
            let mut table = txn.open_table(RECORDS).map_err(|x| e(x.into()))?;
            for record in records {
                let key = (record.field, record.key.as_str());
                match &record.value {
                    Some(value) => table.insert(key, value.as_slice()).map(drop),
                    None => table.remove(key).map(drop),
                }
                .map_err(|x| e(x.into()))?;
            }
        }
        txn.commit().map_err(|x| e(x.into()))
    }
}

#[cfg(test)]
mod tests {
    use vpclab_model::{RunInstance, Tags};

    use super::*;

    fn json(m: &Model) -> serde_json::Value {
        serde_json::to_value(m).unwrap()
    }

    fn reopened(dir: &Path) -> Model {
        Store::open(dir).unwrap().1.expect("a model")
    }

    #[test]
    fn changes_are_stored_as_records_and_read_back() {
        let dir = tempdir();
        let (mut store, none) = Store::open(dir.path()).unwrap();
        assert!(none.is_none());
        let mut old = Model::new(5);
        let vpc = old.create_vpc("10.0.0.0/16".parse().unwrap(), Tags::new()).unwrap();
        let subnet =
            old.create_subnet(&vpc, "10.0.0.0/24".parse().unwrap(), None, Tags::new()).unwrap();
        store.save(&old).unwrap();
        for _ in 0..3 {
            let mut new = old.clone();
            let spec = RunInstance { subnet: Some(subnet.clone()), ..Default::default() };
            let id = new.run_instance(spec).unwrap();
            new.terminate_instance(&id, 7).unwrap();
            new.run_instance(RunInstance { subnet: Some(subnet.clone()), ..Default::default() })
                .unwrap();
            store.save_change(&old, &new).unwrap();
            old = new;
        }
        drop(store);
        assert_eq!(json(&reopened(dir.path())), json(&old));
    }

    #[test]
    fn a_whole_model_of_an_older_state_directory_is_read_then_stored_as_records() {
        let dir = tempdir();
        let mut old = Model::new(9);
        old.create_vpc("10.1.0.0/16".parse().unwrap(), Tags::new()).unwrap();
        {
            // The earlier form, as earlier versions wrote it.
            let db = Database::create(dir.path().join(FILE)).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(STATE)
                .unwrap()
                .insert(MODEL_KEY, serde_json::to_vec(&old).unwrap().as_slice())
                .unwrap();
            txn.commit().unwrap();
        }
        let (mut store, read) = Store::open(dir.path()).unwrap();
        let read = read.unwrap();
        assert_eq!(json(&read), json(&old));
        let mut new = read.clone();
        new.create_vpc("10.2.0.0/16".parse().unwrap(), Tags::new()).unwrap();
        // The first change writes every record, and the whole model goes.
        store.save_change(&read, &new).unwrap();
        drop(store);
        assert_eq!(json(&reopened(dir.path())), json(&new));
        let db = Database::create(dir.path().join(FILE)).unwrap();
        let txn = db.begin_read().unwrap();
        assert!(matches!(txn.open_table(STATE), Err(redb::TableError::TableDoesNotExist(_))));
    }

    #[test]
    fn a_whole_save_replaces_every_record() {
        let dir = tempdir();
        let (mut store, _) = Store::open(dir.path()).unwrap();
        let mut a = Model::new(1);
        a.create_vpc("10.0.0.0/16".parse().unwrap(), Tags::new()).unwrap();
        store.save(&a).unwrap();
        let b = Model::new(2);
        store.save(&b).unwrap();
        drop(store);
        assert_eq!(reopened(dir.path()).vpcs().count(), 0);
    }

    /// A directory of its own under the system's temporary one, removed on drop.
    struct TempDir(PathBuf);
    impl TempDir {
        fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn tempdir() -> TempDir {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("vpclab-store-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}
