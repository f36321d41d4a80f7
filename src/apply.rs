//! Sends a zone's planned actions to Cloudflare: one batch per zone (split at Cloudflare's
//! 200-change limit), so that a zone's changes land together or not at all. When Cloudflare
//! rejects a batch that holds several actions, each action is sent again as its own batch so
//! that one bad record cannot hold the others back, and the bad one is named. A CNAME
//! replacement is always one batch of its own kind: delete and creates together.

use crate::cloudflare::{ApiError, Client, MAX_BATCH_CHANGES};
use crate::model::Zone;
use crate::plan::Action;

/// The outcome of one action.
#[derive(Debug)]
pub struct Applied<'a> {
    pub action: &'a Action,
    pub result: Result<(), String>,
}

/// Applies `actions` in `zone`. Every action gets a result.
pub async fn apply_zone<'a>(
    client: &Client,
    zone: &Zone,
    actions: &[&'a Action],
) -> Vec<Applied<'a>> {
    let mut results = Vec::with_capacity(actions.len());
    for chunk in chunks(actions) {
        match client.apply_batch(&zone.id, &chunk).await {
            Ok(()) => results.extend(chunk.iter().map(|action| Applied {
                action,
                result: Ok(()),
            })),
            Err(error) if chunk.len() > 1 && is_rejection(&error) => {
                tracing::info!(zone = %zone.name, "Cloudflare rejected a batch of {} changes ({error}); sending each record on its own to find the one at fault", chunk.len());
                for action in chunk {
                    let result = client
                        .apply_batch(&zone.id, &[action])
                        .await
                        .map_err(|error| describe_failure(action, zone, &error));
                    results.push(Applied { action, result });
                }
            }
            Err(error) => results.extend(chunk.iter().map(|action| Applied {
                action,
                result: Err(describe_failure(action, zone, &error)),
            })),
        }
    }
    results
}

/// A 4xx from Cloudflare's API about the content: something one record may have caused.
fn is_rejection(error: &ApiError) -> bool {
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

/// "failed to update A home.example.com in zone example.com: …; next step".
pub fn describe_failure(action: &Action, zone: &Zone, error: &ApiError) -> String {
    let what = match action {
        Action::Create(new) => format!("create {} {}", new.family, new.name),
        Action::Update { family, name, .. } => format!("update {family} {name}"),
        Action::ReplaceCname { name, target, .. } => format!("replace the CNAME {name} → {target}"),
    };
    if error.maybe_applied() {
        return format!("could not confirm the {what} in zone {}: {error}; the change may or may not have been applied, and the next cycle will check again", zone.name);
    }
    let next = match error {
        ApiError::Api { status, .. } if *status < 500 => "; nothing at this name was changed: fix the record in the Cloudflare dashboard or the config, then run again",
        _ => "",
    };
    format!("failed to {what} in zone {}: {error}{next}", zone.name)
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
    fn batches_split_at_the_limit() {
        let actions: Vec<Action> = (0..450).map(create).collect();
        let refs: Vec<&Action> = actions.iter().collect();
        let sizes: Vec<usize> = chunks(&refs).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![200, 200, 50]);
    }
}
