//! The long-lived side of the cycle: the config, one `Account` per token (API client with its
//! budget, zone directory, fingerprint), the detector, the state directory and what it
//! remembers. `run_cycle` builds one `Pass` over them, bounds it by `cycle_timeout`, and
//! writes back what the pass learnt (memory, a Retry-After) and what it cost.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::cloudflare::{ApiCycle, Client};
use crate::config::Config;
use crate::detect::Detector;
use crate::state::remembered::{self, Remembered};
use crate::state::StateDir;
use crate::zones::ZoneDirectory;

use super::{CycleProblem, CycleReport, Pass, PassAccount};

/// The long-lived parts a cycle needs: config, one API client (with its budget) and zone
/// directory per token, the detector, the state directory and what it remembers.
pub struct Engine {
    pub config: Config,
    /// One per token, in `Config::tokens` order.
    accounts: Vec<Account>,
    detector: Detector,
    state: Option<Arc<StateDir>>,
    /// What the API last showed at the managed names; loaded on the first cycle.
    memory: Option<Remembered>,
    /// The next cycle re-reads what DNS cannot confirm (daemon start, SIGUSR1).
    force_reread: bool,
    /// A Retry-After may be on disk (so a cycle without one removes it).
    rate_limit_remembered: bool,
}

/// One token's side of the engine: its API client (records sharing a token share it, and so
/// its budget: Cloudflare's rate limit is per token), its zone directory and its fingerprint
/// (the key of what is remembered for it).
pub struct Account {
    pub client: Client,
    pub zones: ZoneDirectory,
    fingerprint: String,
}

/// What a reader (doctor) judges with: the engine's parts, one `Account` per token and the
/// detector, built the same way but over a read-only state directory. The reader owns them:
/// no engine is taken apart, and nothing it does can be written back.
pub struct ReaderParts {
    /// One per token, in `Config::tokens` order.
    pub accounts: Vec<Account>,
    pub detector: Detector,
}

impl ReaderParts {
    pub fn new(config: &Config) -> Result<ReaderParts, crate::http::SetupError> {
        let state = config
            .state_dir
            .as_deref()
            .map(|dir| Arc::new(StateDir::read_only(dir)));
        Ok(ReaderParts {
            accounts: accounts(config, state.as_ref())?,
            detector: Detector::new(config.detect.timeout),
        })
    }
}

impl Engine {
    /// Builds the clients for a config.
    pub fn new(config: Config) -> Result<Engine, crate::http::SetupError> {
        Engine::with_state(config, StateDir::new)
    }

    fn with_state(
        config: Config,
        open: fn(&std::path::Path) -> StateDir,
    ) -> Result<Engine, crate::http::SetupError> {
        let state = config.state_dir.as_deref().map(|dir| Arc::new(open(dir)));
        let accounts = accounts(&config, state.as_ref())?;
        let detector = Detector::new(config.detect.timeout);
        Ok(Engine {
            config,
            accounts,
            detector,
            state,
            memory: None,
            force_reread: false,
            rate_limit_remembered: true,
        })
    }

    /// Puts a new config in force. The API clients, with their budgets and backoff, are kept
    /// unless the API URL, a token or the limits changed, so a reload cannot be used to
    /// hammer Cloudflare; so are the zone directories.
    pub fn reconfigure(&mut self, config: Config) -> Result<(), crate::http::SetupError> {
        let same_api = config.api_url == self.config.api_url && config.tokens == self.config.tokens;
        let same_limits = config.daemon.max_requests_per_cycle
            == self.config.daemon.max_requests_per_cycle
            && config.daemon.max_requests_per_hour == self.config.daemon.max_requests_per_hour;
        let same_state = config.state_dir == self.config.state_dir;
        if !same_state {
            self.state = config
                .state_dir
                .as_deref()
                .map(|dir| Arc::new(StateDir::new(dir)));
            self.memory = None;
        }
        if !(same_api && same_limits && same_state) {
            self.accounts = accounts(&config, self.state.as_ref())?;
        }
        self.detector = Detector::new(config.detect.timeout);
        self.config = config;
        Ok(())
    }

    /// The first token's API client, for tests and benchmarks.
    pub fn client(&self) -> &Client {
        &self.accounts[0].client
    }

    /// Makes the next cycle re-read through the API what DNS cannot confirm.
    pub fn reread_next_cycle(&mut self) {
        self.force_reread = true;
    }

    /// Runs one cycle. With `dry_run`, stops after the plan and sends only GET requests. The
    /// whole cycle ends by `[daemon].cycle_timeout`, whatever hangs.
    pub async fn run_cycle(&mut self, dry_run: bool) -> CycleReport {
        let timeout = self.config.daemon.cycle_timeout;
        let started = Instant::now();
        // The config caps cycle_timeout, so this cannot overflow; stay safe if it did.
        let deadline = started.checked_add(timeout).unwrap_or(started);
        let state = self.state.clone();
        let memory = self
            .memory
            .get_or_insert_with(|| load_memory(state.as_deref()));
        let remembered_before = memory.clone();
        // Each account lends its client (for this cycle's API handle, which outlives the pass)
        // and its zone directory (to the pass); the two borrows are of different fields.
        let (clients, directories): (Vec<(&Client, &str)>, Vec<&mut ZoneDirectory>) = self
            .accounts
            .iter_mut()
            .map(|account| {
                account.zones.start_cycle();
                (
                    (&account.client, account.fingerprint.as_str()),
                    &mut account.zones,
                )
            })
            .unzip();
        let apis: Vec<ApiCycle> = clients
            .iter()
            .map(|(client, _)| client.cycle(deadline))
            .collect();
        let accounts = directories
            .into_iter()
            .zip(apis.iter().zip(&clients))
            .map(|(zones, (api, (_, fingerprint)))| PassAccount {
                api,
                fingerprint,
                zones,
            })
            .collect();
        let stages = Pass {
            config: &self.config,
            accounts,
            detector: &self.detector,
            memory,
            resolved: BTreeMap::new(),
            dry_run,
            forced: std::mem::take(&mut self.force_reread),
        };
        // A little grace past the deadline lets requests that end at it report their own error.
        let grace = Duration::from_millis(500);
        let mut report = match tokio::time::timeout_at(deadline + grace, stages.run()).await {
            Ok(report) => report,
            Err(_) => CycleReport {
                dry_run,
                problems: vec![CycleProblem::Abandoned { timeout }],
                ..CycleReport::default()
            },
        };
        report.api_requests = apis.iter().map(ApiCycle::requests_sent).sum();
        for api in &apis {
            for (kind, count) in api.requests_by_kind() {
                *report.requests_by_status.entry(kind).or_default() += count;
            }
        }
        drop(apis);
        drop(clients);
        self.write_back(dry_run, &remembered_before);
        report.budget_remaining = self
            .accounts
            .iter()
            .map(|account| account.client.budget_remaining())
            .min();
        report
    }

    /// Keeps what the cycle learnt for the next run: the latest Retry-After of any token
    /// (removed once none is in force), and the memory when it changed (not on a dry run).
    fn write_back(&mut self, dry_run: bool, remembered_before: &Remembered) {
        let Some(state) = &self.state else {
            return;
        };
        let until = self
            .accounts
            .iter()
            .filter_map(|account| account.client.rate_limited_until())
            .max();
        if until.is_some() || self.rate_limit_remembered {
            state.write_rate_limit(until);
        }
        self.rate_limit_remembered = until.is_some();
        if let Some(memory) = self.memory.as_ref().filter(|_| !dry_run) {
            if memory != remembered_before {
                state.write_json(remembered::FILE, memory);
            }
        }
    }
}

/// What the state directory remembers of the API's records; nothing when there is none, or
/// when another version wrote it (then the zones are listed again).
fn load_memory(state: Option<&StateDir>) -> Remembered {
    state
        .and_then(|state| state.read_json::<Remembered>(remembered::FILE))
        .and_then(|file| {
            let checked = file.checked();
            if checked.is_none() {
                tracing::warn!(
                    "ignoring {}: another version wrote it; the zones are listed again",
                    remembered::FILE
                );
            }
            checked
        })
        .unwrap_or_default()
}

/// One client and zone directory per token. The first token keeps `zones.json`; others get
/// `zones-<fingerprint>.json`.
fn accounts(
    config: &Config,
    state: Option<&Arc<StateDir>>,
) -> Result<Vec<Account>, crate::http::SetupError> {
    let mut accounts = Vec::new();
    for (index, entry) in config.tokens.iter().enumerate() {
        let client = new_client(config, &entry.token, state.map(|state| state.as_ref()))?;
        let fingerprint = entry.token.fingerprint();
        let cache_file = if index == 0 {
            "zones.json".to_string()
        } else {
            format!("zones-{fingerprint}.json")
        };
        let zones = ZoneDirectory::new(config, &entry.token, cache_file, state.cloned());
        accounts.push(Account {
            client,
            zones,
            fingerprint,
        });
    }
    Ok(accounts)
}

/// The API client for a config, honouring a Retry-After that an earlier run remembered.
fn new_client(
    config: &Config,
    token: &crate::secret::ApiToken,
    state: Option<&StateDir>,
) -> Result<Client, crate::http::SetupError> {
    let client = Client::new(
        &config.api_url,
        token.clone(),
        config.daemon.max_requests_per_cycle,
        config.daemon.max_requests_per_hour,
    )?;
    if let Some(until) = state.and_then(StateDir::read_rate_limit) {
        client.defer_until(until);
    }
    Ok(client)
}
