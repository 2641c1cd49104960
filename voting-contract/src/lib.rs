//! What the voting app's three services agree on, with each other and with
//! the classic dockersamples/example-voting-app whose parts they replace.
//!
//! The classic app is five containers that only meet through two data
//! stores, so the data formats *are* the interface. Keeping them exact is
//! what lets our `vote`, `worker` and `result` each replace the original
//! part alone, with the other originals still running beside it:
//!
//! * `vote` appends one JSON object per vote, `{"voter_id":"…","vote":"a"}`,
//!   to the Redis list [`VOTES_LIST`] (`RPUSH`), so the oldest vote is at
//!   the head.
//! * `worker` takes them from the head and keeps one row per voter in the
//!   PostgreSQL table [`CREATE_TABLE`] describes: the latest vote wins.
//! * `result` counts with [`TALLY_QUERY`], the original's query verbatim.
//!
//! How to reach both stores is configured the same way in every service
//! ([`RedisArgs`], [`PgArgs`]), defaulting to the Service names the classic
//! manifests use: `redis` and `db`. Each service's own metrics are declared
//! with [`service_metrics!`] (see [`metrics`]).

pub mod metrics;
pub mod pg;
mod redis_args;
#[cfg(feature = "testing")]
pub mod testing;

pub use pg::PgArgs;
pub use redis_args::RedisArgs;

// For `service_metrics!`, so that its users need no path of their own.
#[doc(hidden)]
pub use prometheus_client as __prometheus_client;

use serde::{Deserialize, Serialize};

/// The Redis list `vote` pushes to and `worker` pops from.
pub const VOTES_LIST: &str = "votes";

/// The table, as the original worker creates it when it is missing.
pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS votes (id VARCHAR(255) NOT NULL UNIQUE, vote VARCHAR(255) NOT NULL)";

/// The original result app's query, one row per option that has votes.
pub const TALLY_QUERY: &str = "SELECT vote, COUNT(id) AS count FROM votes GROUP BY vote";

/// One vote as it travels through Redis. Field order matters to nobody's
/// parser, but it is the original's (`voter_id` first), so a byte-for-byte
/// look at the list shows the same thing with either `vote` service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub voter_id: String,
    pub vote: String,
}

impl Vote {
    /// The JSON text pushed to Redis.
    pub fn to_json(&self) -> String {
        // Serializing two strings cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// One of the two options. The wire value is `a` or `b`; what they mean
/// (`Cats`, `Dogs`) is each service's OPTION_A/OPTION_B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Choice {
    A,
    B,
}

impl Choice {
    /// `a` → A, `b` → B, anything else is not a vote.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "a" => Some(Self::A),
            "b" => Some(Self::B),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "a",
            Self::B => "b",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vote_json_is_the_originals() {
        let vote = Vote {
            voter_id: "4f2a9c1e0b7d3a65".into(),
            vote: "a".into(),
        };
        assert_eq!(
            vote.to_json(),
            r#"{"voter_id":"4f2a9c1e0b7d3a65","vote":"a"}"#
        );
    }

    #[test]
    fn only_a_and_b_are_choices() {
        assert_eq!(Choice::parse("a"), Some(Choice::A));
        assert_eq!(Choice::parse("b"), Some(Choice::B));
        for other in ["", "A", "c", "a ", "ab"] {
            assert_eq!(Choice::parse(other), None, "{other:?}");
        }
    }
}
