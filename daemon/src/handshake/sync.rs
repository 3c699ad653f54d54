//! One pass over the cloud-review queue: entries the user let go are sent, sent ones are followed
//! until their result is here, and decisions are reported to the server. A server out of reach
//! (or busy) postpones an entry with exponential backoff; nothing is lost or sent twice (a
//! request sent again carries the same queue id, which the server maps to the same review).

use super::{ClientError, Redactor, ReviewClient, outgoing};
use crate::agent::{CloudQueue, QueueEntry, QueueError, Stage};
use edgecoder_protocol::review::ReviewState;
use serde::Serialize;
use tracing::Instrument;

/// What one pass did, by entry id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Synced {
    /// Sent to the server now.
    pub sent: Vec<String>,
    /// Results that came now.
    pub answered: Vec<String>,
    /// Reviews the server could not do, with its reason.
    pub failed: Vec<(String, String)>,
    /// Decisions the server was told of.
    pub acknowledged: Vec<String>,
    /// Entries postponed: the error, and the time of the next try (Unix seconds).
    pub postponed: Vec<(String, String, u64)>,
    /// Entries still waiting for the server or their next try.
    pub pending: Vec<String>,
}

/// Seconds to wait after the `attempts`-th failure in a row: 5 s doubling to 15 minutes, plus up
/// to a fifth more at random so devices that failed together do not retry together.
pub fn backoff_s(attempts: u32) -> u64 {
    let base = 5u64.saturating_mul(1 << attempts.saturating_sub(1).min(10)).min(900);
    let mut byte = [0u8; 1];
    getrandom::fill(&mut byte).expect("the system's random source works");
    base + base * u64::from(byte[0]) / (255 * 5)
}

/// What to do after a failed call.
enum Failure {
    /// Try again later.
    Postpone(String),
    /// The server refused the request itself: the entry fails with this message.
    Refused(String),
    /// The server no longer knows the review: send it again.
    Forgotten,
}

fn classify(error: ClientError) -> Failure {
    match error {
        ClientError::Unknown(_) => Failure::Forgotten,
        ClientError::Refused { status, message } if status == 400 || status == 413 || status == 422 => {
            Failure::Refused(format!("the review server refused the request ({status}): {message}"))
        }
        other => Failure::Postpone(other.to_string()),
    }
}

/// Sends, follows and acknowledges every entry of `queue` that is due at `now` (Unix seconds).
pub async fn sync(queue: &CloudQueue, client: &mut ReviewClient, redactor: &Redactor, now: u64) -> Result<Synced, QueueError> {
    let mut synced = Synced::default();
    for entry in queue.list()?.entries {
        let review = &entry.review;
        let due = review.next_attempt <= now;
        let id = entry.id.clone();
        let span = tracing::info_span!("review_sync", entry = %id, stage = review.stage.as_str());
        let outcome = match review.stage {
            Stage::Waiting | Stage::Sent if !due => {
                synced.pending.push(id);
                continue;
            }
            Stage::Waiting => send(queue, client, redactor, &entry, &mut synced).instrument(span).await,
            Stage::Sent => follow(queue, client, &entry, &mut synced).instrument(span).await,
            Stage::Decided if !review.acknowledged && due => {
                acknowledge(queue, client, &entry, &mut synced).instrument(span).await
            }
            _ => continue,
        };
        if let Err(error) = outcome {
            match classify(error) {
                Failure::Postpone(message) => {
                    let attempts = entry.review.attempts + 1;
                    let next = now + backoff_s(attempts);
                    tracing::warn!(attempts, next_attempt = next, %message, "review call failed; postponed");
                    queue.update(&id, |e| {
                        e.review.attempts = attempts;
                        e.review.next_attempt = next;
                        e.review.last_error = Some(message.clone());
                    })?;
                    synced.postponed.push((id, message, next));
                }
                Failure::Refused(message) => {
                    queue.update(&id, |e| {
                        e.review.stage = Stage::Failed;
                        e.review.last_error = Some(message.clone());
                    })?;
                    synced.failed.push((id, message));
                }
                Failure::Forgotten => {
                    tracing::warn!("the server forgot the review; it is sent again");
                    queue.update(&id, |e| {
                        e.review.stage = Stage::Waiting;
                        e.review.server_id = None;
                    })?;
                    synced.pending.push(id);
                }
            }
        }
    }
    Ok(synced)
}

async fn acknowledge(queue: &CloudQueue, client: &mut ReviewClient, entry: &QueueEntry, synced: &mut Synced) -> Result<(), ClientError> {
    if let Some(server_id) = &entry.review.server_id {
        match client.acknowledge(server_id, entry.review.decision).await {
            // A server that forgot the review needs no acknowledgement.
            Ok(_) | Err(ClientError::Unknown(_)) => {}
            Err(error) => return Err(error),
        }
    }
    queue
        .update(&entry.id, |e| e.review.acknowledged = true)
        .map_err(|e| ClientError::Malformed(format!("the queue entry could not be updated: {e}")))?;
    synced.acknowledged.push(entry.id.clone());
    Ok(())
}

async fn send(
    queue: &CloudQueue,
    client: &mut ReviewClient,
    redactor: &Redactor,
    entry: &QueueEntry,
    synced: &mut Synced,
) -> Result<(), ClientError> {
    let request = outgoing(entry, redactor).request;
    let status = client.submit(&request).await?;
    tracing::info!(review = %status.id, "sent for review");
    queue
        .update(&entry.id, |e| {
            e.review.stage = Stage::Sent;
            e.review.server_id = Some(status.id.clone());
            e.review.attempts = 0;
            e.review.next_attempt = 0;
            e.review.last_error = None;
        })
        .map_err(|e| ClientError::Malformed(format!("the queue entry could not be updated: {e}")))?;
    synced.sent.push(entry.id.clone());
    Ok(())
}

async fn follow(queue: &CloudQueue, client: &mut ReviewClient, entry: &QueueEntry, synced: &mut Synced) -> Result<(), ClientError> {
    let Some(server_id) = entry.review.server_id.clone() else {
        return Err(ClientError::Unknown(String::new()));
    };
    let status = client.status(&server_id).await?;
    let update = |change: &dyn Fn(&mut QueueEntry)| {
        queue
            .update(&entry.id, |e| {
                e.review.attempts = 0;
                e.review.last_error = None;
                change(e);
            })
            .map_err(|e| ClientError::Malformed(format!("the queue entry could not be updated: {e}")))
    };
    match status.state {
        ReviewState::Done => {
            let result = client.result(&server_id).await?;
            if result.queue_id != entry.id {
                return Err(ClientError::Malformed(format!("the result is for {:?}, not {}", result.queue_id, entry.id)));
            }
            update(&|e| {
                e.review.stage = Stage::Answered;
                e.review.result = Some(result.clone());
            })?;
            tracing::info!(review = %server_id, "review result received");
            synced.answered.push(entry.id.clone());
        }
        ReviewState::Failed => {
            let message = status.message.unwrap_or_else(|| "the server gave no reason".into());
            update(&|e| {
                e.review.stage = Stage::Failed;
                e.review.last_error = Some(message.clone());
            })?;
            synced.failed.push((entry.id.clone(), message));
        }
        ReviewState::Acknowledged => return Err(ClientError::Unknown(server_id)),
        ReviewState::Queued | ReviewState::Running => synced.pending.push(entry.id.clone()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_quarter_hour_with_a_little_jitter() {
        for (attempts, base) in [(1, 5), (2, 10), (3, 20), (8, 640), (9, 900), (40, 900)] {
            let wait = backoff_s(attempts);
            assert!((base..=base + base / 5).contains(&wait), "{attempts}: {wait}");
        }
    }
}
