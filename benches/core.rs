//! Core benchmarks on the 52 platform object definitions of the shared
//! corpus: save, load (cached through the chain and uncached from the
//! store), load_many and checksum. `cargo bench --bench core`.

use std::rc::Rc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use objectstack_metadata::*;
use serde_json::Value;

fn corpus() -> Vec<(String, String, Value)> {
    let items: Vec<Value> =
        serde_json::from_str(include_str!("../tests/data/platform-objects.json")).unwrap();
    items
        .into_iter()
        .map(|i| {
            (
                i["type"].as_str().unwrap().to_owned(),
                i["name"].as_str().unwrap().to_owned(),
                i["data"].clone(),
            )
        })
        .collect()
}

fn service() -> MetadataService {
    MetadataService::builder(MemoryStore::new())
        .clock(Rc::new(ManualClock::new(0, 1)))
        .build()
        .unwrap()
}

fn benches(c: &mut Criterion) {
    let items = corpus();
    let n = items.len() as u64;
    let mut g = c.benchmark_group("corpus_52_objects");
    g.throughput(Throughput::Elements(n));

    g.bench_function("checksum", |b| {
        b.iter(|| {
            for (_, _, data) in &items {
                std::hint::black_box(checksum(data).unwrap());
            }
        })
    });

    g.bench_function("canonicalize", |b| {
        b.iter(|| {
            for (_, _, data) in &items {
                std::hint::black_box(canonicalize(data).unwrap());
            }
        })
    });

    // The text path: JSON text as JSON.stringify writes it (document order).
    let texts: Vec<String> = items
        .iter()
        .map(|(_, _, d)| serde_json::to_string(d).unwrap())
        .collect();
    g.bench_function("canonicalize_text", |b| {
        b.iter(|| {
            for text in &texts {
                std::hint::black_box(canonical::canonicalize_text(text).unwrap());
            }
        })
    });
    g.bench_function("checksum_text", |b| {
        b.iter(|| {
            for text in &texts {
                std::hint::black_box(canonical::checksum_text(text).unwrap());
            }
        })
    });
    g.bench_function("md5_of_text", |b| {
        b.iter(|| {
            for text in &texts {
                std::hint::black_box(canonical::md5_hex(text.as_bytes()));
            }
        })
    });

    g.bench_function("content_hash_sha256", |b| {
        b.iter(|| {
            for (_, _, data) in &items {
                std::hint::black_box(content_hash(data).unwrap());
            }
        })
    });

    g.bench_function("save_create", |b| {
        b.iter_batched(
            service,
            |svc| {
                pollster::block_on(async {
                    for (t, name, data) in &items {
                        svc.save(t, name, data.clone(), SaveOptions::default())
                            .await
                            .unwrap();
                    }
                })
            },
            BatchSize::SmallInput,
        )
    });

    // Every save a real change: each item gets one more field than stored.
    let variants: Vec<Value> = items
        .iter()
        .map(|(_, _, d)| {
            let mut other = d.clone();
            other["bench_revision"] = Value::from(1);
            other
        })
        .collect();
    let filled = || {
        let svc = service();
        pollster::block_on(async {
            for (t, name, data) in &items {
                svc.save(t, name, data.clone(), SaveOptions::default())
                    .await
                    .unwrap();
            }
        });
        svc
    };
    g.bench_function("save_update", |b| {
        b.iter_batched(
            filled,
            |svc| {
                pollster::block_on(async {
                    for ((t, name, _), v) in items.iter().zip(&variants) {
                        svc.save(t, name, v.clone(), SaveOptions::default())
                            .await
                            .unwrap();
                    }
                });
                svc
            },
            BatchSize::SmallInput,
        )
    });

    let svc = filled();
    g.bench_function("save_noop", |b| {
        b.iter(|| {
            pollster::block_on(async {
                for (t, name, data) in &items {
                    svc.save(t, name, data.clone(), SaveOptions::default())
                        .await
                        .unwrap();
                }
            })
        })
    });

    g.bench_function("load_uncached", |b| {
        b.iter(|| {
            pollster::block_on(async {
                for (t, name, _) in &items {
                    std::hint::black_box(svc.load(t, name).await.unwrap());
                }
            })
        })
    });

    let chain = HybridService::new(service(), None, HybridConfig::default());
    pollster::block_on(async {
        for (t, name, data) in &items {
            chain
                .save(t, name, data.clone(), SaveOptions::default())
                .await
                .unwrap();
        }
    });
    g.bench_function("load_cached_chain", |b| {
        b.iter(|| {
            pollster::block_on(async {
                for (t, name, _) in &items {
                    std::hint::black_box(chain.load(t, name).await.unwrap());
                }
            })
        })
    });
    g.finish();

    let mut g = c.benchmark_group("load_many");
    g.throughput(Throughput::Elements(n));
    g.bench_function("service_load_many_52", |b| {
        b.iter(|| pollster::block_on(async { svc.load_many("object").await.unwrap() }))
    });
    g.finish();
}

criterion_group!(core, benches);
criterion_main!(core);
