//! The stand-in's Lists API: an account's custom lists, their items with cursor paging, item
//! writes that answer an `operation_id`, and bulk operations that are `pending` on the first
//! poll and `completed` (or `failed`) after. Like Cloudflare, only one pending operation per
//! account: a second write meanwhile gets a 429. Written apart from the client on purpose.

use serde_json::{json, Value};

use crate::api::{err, failure, ok, Answer};
use crate::records::normalise_ip;
use crate::routes::param;
use crate::{CustomList, ListItem, Operation, State};

pub(crate) fn route(
    state: &mut State,
    method: &str,
    account: &str,
    rest: &[&str],
    params: &[(String, String)],
    body: &Value,
) -> Answer {
    match (method, rest) {
        ("GET", []) => {
            let lists: Vec<Value> = state
                .lists
                .iter()
                .filter(|list| list.account == account)
                .map(list_json)
                .collect();
            ok(json!(lists))
        }
        ("POST", []) => create(state, account, body),
        ("GET", ["bulk_operations", operation]) => poll(state, account, operation),
        ("GET", [list, "items"]) => items(state, account, list, params),
        ("POST", [list, "items"]) => write(state, account, list, body, true),
        ("DELETE", [list, "items"]) => write(state, account, list, body, false),
        _ => err(failure(404, 7003, "Could not route to the requested path")),
    }
}

fn list_json(list: &CustomList) -> Value {
    json!({"id": list.id, "name": list.name, "kind": list.kind, "description": list.description, "num_items": list.items.len()})
}

fn create(state: &mut State, account: &str, body: &Value) -> Answer {
    let name = body.get("name").and_then(Value::as_str).unwrap_or("");
    let valid = !name.is_empty()
        && name.len() <= 50
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        return err(failure(400, 10013, "list name must match ^[a-z0-9_]+$"));
    }
    if state
        .lists
        .iter()
        .any(|list| list.account == account && list.name == name)
    {
        return err(failure(400, 10014, "a list with this name already exists"));
    }
    let list = CustomList {
        account: account.to_string(),
        id: state.new_id(),
        name: name.to_string(),
        kind: body
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("ip")
            .to_string(),
        description: body
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        items: Vec::new(),
    };
    let answer = list_json(&list);
    state.lists.push(list);
    ok(answer)
}

fn items(state: &State, account: &str, list: &str, params: &[(String, String)]) -> Answer {
    let Some(list) = state
        .lists
        .iter()
        .find(|found| found.account == account && found.id == list)
    else {
        return err(failure(404, 10001, "list not found"));
    };
    // Small pages, so the client's cursor handling is exercised.
    let per_page = param(params, "per_page")
        .and_then(|value| value.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, 2);
    let start = param(params, "cursor")
        .and_then(|cursor| cursor.strip_prefix('c'))
        .and_then(|offset| offset.parse::<usize>().ok())
        .unwrap_or(0);
    let page: Vec<Value> = list
        .items
        .iter()
        .skip(start)
        .take(per_page)
        .map(|item| json!({"id": item.id, "ip": item.ip, "comment": item.comment}))
        .collect();
    let next = start + page.len();
    let cursors = if state.looping_item_cursor {
        json!({"after": if start == 0 { "c2" } else { "c0" }})
    } else if next < list.items.len() {
        json!({"after": format!("c{next}")})
    } else {
        json!({})
    };
    crate::api::envelope(
        200,
        json!({"success": true, "errors": [], "messages": [], "result": page, "result_info": {"cursors": cursors}}),
    )
}

fn write(state: &mut State, account: &str, list: &str, body: &Value, add: bool) -> Answer {
    if state
        .operations
        .values()
        .any(|operation| operation.account == account && !operation.polled)
    {
        return err(failure(
            429,
            10048,
            "another bulk operation is pending for this account",
        ));
    }
    let Some(index) = state
        .lists
        .iter()
        .position(|found| found.account == account && found.id == list)
    else {
        return err(failure(404, 10001, "list not found"));
    };
    let error = state.fail_next_operation.take();
    if error.is_none() {
        if add {
            let Some(entries) = body.as_array() else {
                return err(failure(400, 10026, "items must be an array"));
            };
            for entry in entries {
                let Some(ip) = entry
                    .get("ip")
                    .and_then(Value::as_str)
                    .and_then(normalise_ip)
                else {
                    return err(failure(400, 10026, "an item's ip is not valid"));
                };
                let comment = entry
                    .get("comment")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let id = state.new_id();
                state.lists[index].items.push(ListItem { id, ip, comment });
            }
        } else {
            let ids: Vec<String> = body
                .get("items")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| {
                            item.get("id").and_then(Value::as_str).map(str::to_string)
                        })
                        .collect()
                })
                .unwrap_or_default();
            state.lists[index]
                .items
                .retain(|item| !ids.contains(&item.id));
        }
    }
    let operation = state.new_id();
    state.operations.insert(
        operation.clone(),
        Operation {
            account: account.to_string(),
            polled: false,
            error,
        },
    );
    ok(json!({"operation_id": operation}))
}

fn poll(state: &mut State, account: &str, id: &str) -> Answer {
    let Some(operation) = state.operations.get_mut(id) else {
        return err(failure(404, 10001, "operation not found"));
    };
    if operation.account != account {
        return err(failure(404, 10001, "operation not found"));
    }
    if !operation.polled {
        operation.polled = true;
        return ok(json!({"id": id, "status": "pending"}));
    }
    match &operation.error {
        Some(error) => ok(json!({"id": id, "status": "failed", "error": error})),
        None => ok(json!({"id": id, "status": "completed", "completed": "2026-11-25T00:00:00Z"})),
    }
}
