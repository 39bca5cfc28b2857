//! `#[managed]` on every accepted form, with a renamed crate and a custom key.

extern crate multiproc as mp;

#[derive(serde::Serialize, serde::Deserialize)]
pub struct Store {
    items: Vec<(String, u32)>,
}

#[mp::managed(crate = mp, key = "store-v1")]
impl Store {
    pub fn put(&mut self, name: String, count: u32) {
        self.items.push((name, count));
    }

    pub fn total(&self) -> u32 {
        self.items.iter().map(|(_, n)| n).sum()
    }

    pub fn names(&self, (prefix, limit): (String, usize)) -> Vec<String> {
        self.items
            .iter()
            .map(|(n, _)| format!("{prefix}{n}"))
            .take(limit)
            .collect()
    }

    /// Not exposed: neither public nor a method.
    fn helper(&self) -> usize {
        self.items.len()
    }

    pub fn new() -> Store {
        Store { items: Vec::new() }
    }
}

fn main() -> Result<(), mp::Error> {
    let manager = mp::Manager::start()?;
    let store: StoreProxy = manager.create(Store::new())?;
    store.put("a".into(), 2)?;
    store.put("b".into(), 3)?;
    assert_eq!(store.total()?, 5);
    assert_eq!(store.names(("x".into(), 1))?, ["xa"]);
    let _ = Store::new().helper();
    Ok(())
}
