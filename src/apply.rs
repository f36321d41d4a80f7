//! Sends a zone's planned actions to Cloudflare: one batch per zone (split at Cloudflare's
//! 200-change limit), so that a zone's changes land together or not at all. When Cloudflare
//! rejects a batch that holds several actions, the batch is split in halves and each half sent
//! again (recursively), so one bad record among n costs about 2·log2(n) requests, cannot hold
//! the others back, and is named with Cloudflare's code and message. Splitting is capped at
//! 4·log2(n) + 4 extra requests per batch: when every record is refused (a quota), the halves
//! left unsplit get the error of the batch they were in, instead of 2n − 1 requests. A CNAME replacement is
//! one action, so its delete and creates always travel in the same batch.

use std::future::Future;
use std::pin::Pin;

use crate::cloudflare::{ApiCycle, ApiError, Batch, Patch, Post, MAX_BATCH_CHANGES};
use crate::model::{ObservedRecord, Zone};
use crate::plan::{Action, NewRecord};

/// What applying a zone's actions did: every action's result, in the same order, and the
/// records Cloudflare created (with their new ids).
#[derive(Debug, Default)]
pub struct Applied {
    pub results: Vec<Result<(), ApiError>>,
    pub created: Vec<ObservedRecord>,
}

/// Applies `actions` in `zone`.
pub async fn apply_zone(api: &ApiCycle<'_>, zone: &Zone, actions: &[&Action]) -> Applied {
    let mut applied = Applied {
        results: Vec::with_capacity(actions.len()),
        created: Vec::new(),
    };
    for chunk in chunks(actions) {
        let splits = std::cell::Cell::new(split_budget(chunk.len()));
        let (results, created) = send(api, zone, &chunk, &splits).await;
        applied.results.extend(results);
        applied.created.extend(created);
    }
    applied
}

/// How many extra requests bisecting a batch of `n` may cost: 4·log2(n) + 4.
fn split_budget(n: usize) -> u32 {
    let log2 = usize::BITS - n.max(1).leading_zeros();
    4 * log2 + 4
}

/// Each action's result, in order, and what the successful batches created.
type Results = (Vec<Result<(), ApiError>>, Vec<ObservedRecord>);

/// Sends one batch; on a rejection of several actions, bisects.
fn send<'a>(
    api: &'a ApiCycle<'_>,
    zone: &'a Zone,
    actions: &'a [&'a Action],
    splits: &'a std::cell::Cell<u32>,
) -> Pin<Box<dyn Future<Output = Results> + 'a>> {
    Box::pin(async move {
        match api.apply_batch(&zone.id, &batch(actions)).await {
            Ok(created) => (actions.iter().map(|_| Ok(())).collect(), created),
            Err(error) if actions.len() > 1 && is_rejection(&error) && splits.get() >= 2 => {
                splits.set(splits.get() - 2);
                tracing::debug!(zone = %zone.name, "Cloudflare rejected a batch of {} changes ({error}); splitting it to find the record at fault", actions.len());
                let (first, second) = actions.split_at(actions.len() / 2);
                let (mut results, mut created) = send(api, zone, first, splits).await;
                let (more, also) = send(api, zone, second, splits).await;
                results.extend(more);
                created.extend(also);
                (results, created)
            }
            Err(error) => (
                actions.iter().map(|_| Err(error.clone())).collect(),
                Vec::new(),
            ),
        }
    })
}

/// The wire batch for some actions.
pub fn batch(actions: &[&Action]) -> Batch {
    let post = |new: &NewRecord| Post {
        name: new.name.clone(),
        family: new.family,
        content: new.content,
        proxied: new.proxied,
        ttl: new.ttl,
        comment: new.comment.clone(),
    };
    let mut batch = Batch::default();
    for action in actions {
        match action {
            Action::Create(new) => batch.posts.push(post(new)),
            Action::Update {
                id,
                name,
                family,
                content,
                proxied,
                ttl,
                ..
            } => batch.patches.push(Patch {
                id: id.clone(),
                name: name.clone(),
                family: *family,
                content: *content,
                proxied: *proxied,
                ttl: *ttl,
            }),
            Action::ReplaceCname {
                cname_id, creates, ..
            } => {
                batch.deletes.push(cname_id.clone());
                batch.posts.extend(creates.iter().map(post));
            }
        }
    }
    batch
}

/// A 4xx from Cloudflare's API about the content: something one record may have caused.
pub fn is_rejection(error: &ApiError) -> bool {
    matches!(error, ApiError::Api { status, .. } if (400..500).contains(status) && *status != 429)
}

/// Groups actions into batches of at most `MAX_BATCH_CHANGES` changes, never splitting one.
fn chunks<'a>(actions: &[&'a Action]) -> Vec<Vec<&'a Action>> {
    let mut batches: Vec<Vec<&Action>> = Vec::new();
    let mut size = 0;
    for action in actions {
        if batches.is_empty() || size + action.batch_size() > MAX_BATCH_CHANGES {
            batches.push(Vec::new());
            size = 0;
        }
        size += action.batch_size();
        if let Some(last) = batches.last_mut() {
            last.push(action);
        }
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DomainName, Family};
    use crate::plan::NewRecord;

    fn create(index: usize) -> Action {
        Action::Create(NewRecord {
            name: DomainName::parse(&format!("h{index}.example.com")).expect("valid"),
            family: Family::V4,
            content: "81.23.45.99".parse().expect("valid"),
            proxied: false,
            ttl: 1,
            comment: None,
        })
    }

    #[test]
    fn bisection_may_cost_about_four_log2_n() {
        assert_eq!(split_budget(1), 8);
        assert_eq!(split_budget(100), 32);
        assert_eq!(split_budget(200), 36);
    }

    #[test]
    fn batches_split_at_the_limit() {
        let actions: Vec<Action> = (0..450).map(create).collect();
        let refs: Vec<&Action> = actions.iter().collect();
        let sizes: Vec<usize> = chunks(&refs).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![200, 200, 50]);
    }
}
