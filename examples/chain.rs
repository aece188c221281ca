//! Walks through the fallback chain and the versioned store, printing what
//! happens at each step. `cargo run --example chain`

use std::rc::Rc;

use objectstack_metadata::*;
use serde_json::json;

fn show(step: &str, r: &Resolution) {
    let what = match &r.found {
        Some(Found::Database(rec)) => format!(
            "database v{} checksum {} source {} tags {:?}",
            rec.version,
            rec.checksum,
            rec.source.as_str(),
            rec.tags
        ),
        Some(f) => format!("{} {}", f.layer(), f.data()),
        None => "not found in any layer".to_owned(),
    };
    let cache = if r.from_cache { " (cached)" } else { "" };
    let degraded: Vec<String> = r
        .degraded
        .iter()
        .map(|d| format!("{} failed: {}", d.layer, d.error))
        .collect();
    println!("{step:<46} -> {what}{cache}");
    if !degraded.is_empty() {
        println!("{:<46}    degraded: {}", "", degraded.join("; "));
    }
}

fn main() -> Result<()> {
    pollster::block_on(run())
}

async fn run() -> Result<()> {
    let files = Rc::new(FileBundle::from_files([
        (
            "views/all_accounts.view.yaml",
            "label: All accounts (file)\ncolumns: [name, owner]\n",
        ),
        (
            "apps/crm.app.ts",
            "export default {\n  \"label\": \"CRM (file)\"\n};\n",
        ),
    ])?);
    println!("file bundle: {} definitions", files.len());

    let db = MetadataService::builder(MemoryStore::new())
        .tenant(Some("acme"))
        .actor(Actor::new("alice", ["designer"]))
        .build()?;
    let events = Rc::new(std::cell::RefCell::new(Vec::new()));
    let sink = Rc::clone(&events);
    db.feed().subscribe(move |e, _| {
        sink.borrow_mut().push(format!(
            "#{} {} {}/{} v{}",
            e.sequence,
            e.operation.as_str(),
            e.type_name,
            e.name,
            e.version
        ))
    });
    let chain = HybridService::new(db, Some(files), HybridConfig::default());

    show(
        "load view/all_accounts",
        &chain.load("view", "all_accounts").await?,
    );
    chain.register(
        "view",
        "all_accounts",
        json!({"label": "All accounts (code)"}),
    )?;
    show(
        "after register()",
        &chain.load("view", "all_accounts").await?,
    );

    let saved = chain
        .save(
            "view",
            "all_accounts",
            json!({"label": "All accounts", "columns": ["name"]}),
            SaveOptions {
                tags: Some(vec!["crm".into()]),
                ..SaveOptions::default()
            },
        )
        .await?;
    println!(
        "{:<46} -> version {} (changed: {})",
        "save()", saved.outcome.record.version, saved.outcome.changed
    );
    show("load again", &chain.load("view", "all_accounts").await?);
    show("and again", &chain.load("view", "all_accounts").await?);

    let same = chain
        .save(
            "view",
            "all_accounts",
            json!({"columns": ["name"], "label": "All accounts"}),
            SaveOptions::default(),
        )
        .await?;
    println!(
        "{:<46} -> version {} (changed: {})",
        "save() same data, keys reordered", same.outcome.record.version, same.outcome.changed
    );

    let stale = chain
        .save(
            "view",
            "all_accounts",
            json!({"label": "Stale edit"}),
            SaveOptions {
                expected_version: Some(0),
                ..SaveOptions::default()
            },
        )
        .await;
    if let Err(e) = stale {
        println!(
            "{:<46} -> {} {}",
            "save() with expectedVersion 0",
            e.code(),
            e
        );
    }

    chain
        .save(
            "view",
            "all_accounts",
            json!({"label": "All accounts v2", "columns": ["name", "owner"]}),
            SaveOptions::default(),
        )
        .await?;
    let rolled = chain
        .database()
        .rollback("view", "all_accounts", 1, ChangeOptions::default())
        .await?;
    println!(
        "{:<46} -> version {} data {}",
        "rollback(1)", rolled.record.version, rolled.record.data
    );
    for h in chain.database().history("view", "all_accounts").await? {
        println!(
            "  history v{} {:<8} {} by {} at {}",
            h.version,
            h.operation.as_str(),
            h.checksum,
            h.actor,
            h.timestamp
        );
    }
    chain
        .delete("view", "all_accounts", ChangeOptions::default())
        .await?;
    show(
        "after delete() (soft)",
        &chain.load("view", "all_accounts").await?,
    );
    show("load app/crm", &chain.load("app", "crm").await?);
    let many = chain.load_many("view").await?;
    println!("{:<46} -> {} item(s)", "load_many(view)", many.items.len());
    println!("events: {}", events.borrow().join(", "));
    println!(
        "checksum of {{\"b\":1,\"a\":2}}: {}  contentHash: {}",
        checksum(&json!({"b": 1, "a": 2}))?,
        content_hash(&json!({"b": 1, "a": 2}))?
    );
    Ok(())
}
