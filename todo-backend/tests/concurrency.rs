//! Two backend instances on one database, as with the seed's two replicas:
//! concurrent creates, moves (within and between lists) and deletes sent to
//! both at once must leave every list's positions exactly 0..n-1. The
//! original's in-process `synchronized` could not promise that; row locks in
//! the shared database do.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp, TestDb, ops};
use serde_json::json;
use tokio::task::JoinSet;

/// A small deterministic pseudo-random sequence (no dependency, and a
/// failing run can be replayed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

async fn two_replicas(backend: Backend) {
    const LISTS: usize = 4;
    const CREATES: usize = 80;
    const MOVES: usize = 120;
    const DELETES: usize = 15;

    let db = TestDb::new(backend).await;
    let mut config = todo_backend::Config::for_tests(&db.url);
    if backend == Backend::Sqlite {
        // SQLite runs one writer at a time for the whole file: under a
        // burst of 80 writes on a busy 2-core CI machine a request can wait
        // longer for a connection than the 3 s meant for a dead MySQL.
        config.db_acquire_timeout = std::time::Duration::from_secs(30);
    }
    let replicas = [
        TestApp::spawn_ready(config.clone()).await,
        TestApp::spawn_ready(config).await,
    ];
    let replicas = std::sync::Arc::new(replicas);
    let mut lists = Vec::new();
    for i in 0..LISTS {
        lists.push(replicas[i % 2].create_list(&format!("list {i}")).await);
    }

    // Concurrent creates, alternating replicas, plus concurrent list
    // creation on both (list positions need the board lock).
    let mut tasks = JoinSet::new();
    for i in 0..CREATES {
        let replicas = replicas.clone();
        let list = lists[i % LISTS].clone();
        tasks.spawn(async move {
            let result = replicas[i % 2]
                .gql(
                    ops::CREATE_ITEM,
                    json!({ "input": { "name": format!("item {i}"), "listId": list } }),
                )
                .await;
            assert!(result.get("errors").is_none(), "{result}");
            result["data"]["item"]["id"].as_str().unwrap().to_owned()
        });
    }
    for i in 0..6 {
        let replicas = replicas.clone();
        tasks.spawn(async move {
            let result = replicas[i % 2]
                .gql(ops::CREATE_LIST, json!({ "name": format!("extra {i}") }))
                .await;
            assert!(result.get("errors").is_none(), "{result}");
            String::new()
        });
    }
    let mut items: Vec<String> = tasks
        .join_all()
        .await
        .into_iter()
        .filter(|id| !id.is_empty())
        .collect();
    assert_eq!(items.len(), CREATES);
    items.sort();
    replicas[0].board().await;

    // Concurrent moves (some within a list, some across, positions that
    // may be out of bounds by the time they run) and deletes.
    let mut rng = Lcg(0x5eed);
    let mut tasks = JoinSet::new();
    for i in 0..MOVES {
        let replicas = replicas.clone();
        let item = items[rng.next(CREATES as u64) as usize].clone();
        let list = lists[rng.next(LISTS as u64) as usize].clone();
        let position = rng.next(25);
        tasks.spawn(async move {
            let result = replicas[i % 2]
                .gql(
                    ops::MOVE_ITEM,
                    json!({ "id": item, "input": { "listId": list, "position": position } }),
                )
                .await;
            // Out of bounds (a list may be shorter than the random
            // position) and already-deleted items are fine; nothing else.
            if let Some(errors) = result.get("errors") {
                let message = errors[0]["message"].as_str().unwrap();
                assert!(
                    ["Requested Position out of bounds", "Item Not Found"].contains(&message),
                    "{result}"
                );
            }
        });
    }
    for i in 0..DELETES {
        let replicas = replicas.clone();
        let item = items[i * 5].clone();
        tasks.spawn(async move {
            let result = replicas[i % 2]
                .gql(ops::DELETE_ITEM, json!({ "id": item }))
                .await;
            assert!(result.get("errors").is_none(), "{result}");
        });
    }
    tasks.join_all().await;

    // `board` asserts positions 0..n-1 for lists and for every list's items.
    let seen = replicas[1].board().await;
    let total: usize = seen.iter().map(|(_, items)| items.len()).sum();
    assert_eq!(total, CREATES - DELETES);
    assert_eq!(seen.len(), LISTS + 6);

    // A list deleted while items are moved into it and created in it.
    let mut tasks = JoinSet::new();
    for i in 0..20 {
        let replicas = replicas.clone();
        let list = lists[0].clone();
        let item = items[i * 3 + 1].clone();
        tasks.spawn(async move {
            if i == 10 {
                replicas[0]
                    .gql(ops::DELETE_LIST, json!({ "id": list }))
                    .await;
            } else {
                replicas[i % 2]
                    .gql(
                        ops::MOVE_ITEM,
                        json!({ "id": item, "input": { "listId": list, "position": 0 } }),
                    )
                    .await;
            }
        });
    }
    tasks.join_all().await;
    let seen = replicas[0].board().await;
    assert_eq!(seen.len(), LISTS + 5);
    assert!(seen.iter().all(|(name, _)| name != "list 0"));

    let replicas = std::sync::Arc::into_inner(replicas).unwrap();
    for replica in replicas {
        replica.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_mysql() {
    two_replicas(Backend::MySql).await;
}

/// Two processes on one SQLite file also stay consistent (BEGIN IMMEDIATE
/// serializes writers); it is the local store, not a deployment target.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_sqlite() {
    two_replicas(Backend::Sqlite).await;
}
