//! Message search on a big SQLite database: fills a fresh database with
//! `--messages` messages (default 1,000,000) across direct conversations and
//! groups, then times `Store::search_messages` — the server's own statement
//! through the server's own store — for a mix of queries, and prints
//! p50/p99 per kind of query. The fill goes straight to SQL in large
//! transactions, around the committer, so the first search indexes all of
//! it in one bulk step (`store::sqlite_search`; its time is printed, not
//! counted); only the searches are measured.
//!
//!   cargo run --example search_bench [-- MESSAGES [QUERIES_PER_KIND]]
//!
//! Built like the tests (dependencies at opt-level 1, SQLite included);
//! a release build would be somewhat faster.

use confab::domain::{ConversationId, SearchQuery, UserId};
use confab::store::sqlite::SqliteStore;
use confab::store::{MessagingStore, NewUser, Store, UserStore};
use std::time::Instant;

/// Makes one query of a kind: its text and the conversation it is limited to.
type MakeQuery<'a> = &'a dyn Fn(&mut Rng) -> (String, Option<ConversationId>);

const USERS: i64 = 2_000;
const CONVERSATIONS: i64 = 10_000;

/// A small deterministic generator (no extra crate for a tool).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Words with a Zipf-like skew: a few very common, a long tail of rare ones.
fn vocabulary() -> Vec<String> {
    let common =
        ["the", "and", "you", "meet", "today", "lunch", "café", "thanks", "see", "later", "ok", "yes"];
    let mut words: Vec<String> = common.iter().map(|w| w.to_string()).collect();
    for i in 0..20_000 {
        words.push(format!("w{i:05}x"));
    }
    words
}

fn pick<'a>(rng: &mut Rng, words: &'a [String]) -> &'a str {
    // Half of the words drawn from the 12 common ones, the rest from the tail.
    if rng.below(2) == 0 { &words[rng.below(12) as usize] } else { &words[12 + rng.below(20_000) as usize] }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let total: i64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1_000_000);
    let per_kind: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(200);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.db");
    let store = SqliteStore::open(&path, confab::config::SqliteSynchronous::Normal).await?;
    for i in 0..USERS {
        let name = format!("user{i}");
        store
            .create_user(NewUser {
                username: &name,
                username_key: &name,
                display_name: &name,
                password_hash: "x",
                created_at: 1,
            })
            .await?;
    }

    // The fill: conversations (every user in ~10), members, messages.
    let fill = Instant::now();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await?;
    let mut tx = pool.begin().await?;
    for c in 1..=CONVERSATIONS {
        let kind = if c % 10 == 0 { "group" } else { "direct" };
        sqlx::query("INSERT INTO conversations (id, kind, direct_key, name, full_history, created_at) VALUES ($1, $2, $3, $4, 1, 1)")
            .bind(c)
            .bind(kind)
            .bind((kind == "direct").then(|| format!("k{c}")))
            .bind((kind == "group").then(|| format!("group {c}")))
            .execute(&mut *tx)
            .await?;
        let size = if kind == "group" { 10 } else { 2 };
        for k in 0..size {
            let user = (c * 7 + k * 131) % USERS + 1;
            sqlx::query("INSERT OR IGNORE INTO members (conversation_id, user_id, role, joined_at) VALUES ($1, $2, 'member', 1)")
                .bind(c)
                .bind(user)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    let words = vocabulary();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut seqs = vec![0i64; CONVERSATIONS as usize + 1];
    let batch = 20_000;
    let mut done = 0;
    while done < total {
        let mut tx = pool.begin().await?;
        for _ in 0..batch.min(total - done) {
            let c = rng.below(CONVERSATIONS as u64) as i64 + 1;
            seqs[c as usize] += 1;
            let len = 3 + rng.below(10);
            let body: Vec<&str> = (0..len).map(|_| pick(&mut rng, &words)).collect();
            let sender = (c * 7) % USERS + 1;
            sqlx::query("INSERT INTO messages (conversation_id, seq, sender_id, kind, body, created_at) VALUES ($1, $2, $3, 'text', $4, $5)")
                .bind(c)
                .bind(seqs[c as usize])
                .bind(sender)
                .bind(body.join(" "))
                .bind(done)
                .execute(&mut *tx)
                .await?;
            done += 1;
        }
        tx.commit().await?;
    }
    sqlx::query("UPDATE conversations SET last_seq = (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conversation_id = conversations.id)")
        .execute(&pool)
        .await?;
    pool.close().await;
    eprintln!("filled {total} messages in {:.1} s", fill.elapsed().as_secs_f64());
    // The fill went around the committer, so nothing of it is indexed yet:
    // the first search indexes it all in one bulk step (untimed here).
    let index = Instant::now();
    store.search_messages(UserId(1), &SearchQuery::parse("warmup")?, None, None, 1).await?;
    eprintln!("indexed them for search in {:.1} s", index.elapsed().as_secs_f64());

    // The searches, as `GET /api/search/messages` runs them (limit 20).
    let user = UserId(8); // a member of ~10 conversations
    let in_conversation = ConversationId(1);
    let kinds: [(&str, MakeQuery<'_>); 4] = [
        ("rare word", &|r: &mut Rng| (words[12 + r.below(20_000) as usize].clone(), None)),
        ("common word", &|r: &mut Rng| (words[r.below(12) as usize].clone(), None)),
        ("two words, prefix", &|r: &mut Rng| {
            (format!("{} {}", words[r.below(12) as usize], &words[12 + r.below(20_000) as usize][..3]), None)
        }),
        ("common word, one conversation", &|r: &mut Rng| {
            (words[r.below(12) as usize].clone(), Some(in_conversation))
        }),
    ];
    println!("| query | p50 ms | p99 ms | mean results |");
    println!("|---|---|---|---|");
    for (name, make) in kinds {
        let mut times = Vec::with_capacity(per_kind);
        let mut results = 0usize;
        for _ in 0..per_kind {
            let (q, conversation) = make(&mut rng);
            let query = SearchQuery::parse(&q)?;
            let t = Instant::now();
            let found = store.search_messages(user, &query, conversation, None, 20).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            results += found.len();
        }
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "| {name} | {:.2} | {:.2} | {:.1} |",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            results as f64 / per_kind as f64
        );
    }
    store.close().await;
    Ok(())
}
