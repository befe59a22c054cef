//! Run-time parameter changes: a request channel per block ([`ParamHandle`] on the observer's
//! side, [`ParamPort`] on the block's thread) and the check every change goes through before
//! the block sees it.
//!
//! A change `name = value` is accepted only if `name` is a parameter of the block, is listed
//! in its `BlockDef::SETTABLE`, the params with the new value still parse (the same serde
//! types and messages as the TOML file) and pass the block's `validate`, and the block's
//! [`Block::set_param`] takes it. It is applied on the block's own thread between two `work`
//! calls, so a block never sees a change in the middle of a call. The accepted params replace
//! the block's stored params, so a restart after an error keeps the change.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::block::Block;
use crate::buffer::Waker;
use crate::config::schema;
use crate::registry::{AnyParams, DynBlockDef};

/// Why a run-time parameter change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetParamError {
    /// No such block in the flowgraph.
    #[error("no block named `{0}`")]
    UnknownBlock(String),
    /// The block type has no such parameter.
    #[error("block `{block}` ({type_name}) has no parameter `{name}`{help}")]
    UnknownParam {
        /// Block name.
        block: String,
        /// Block type.
        type_name: String,
        /// The parameter asked for.
        name: String,
        /// ", did you mean ...?" or the list of settable names.
        help: String,
    },
    /// The parameter exists but cannot change while running.
    #[error("parameter `{name}` of block `{block}` cannot be changed while running (settable: {settable})")]
    NotSettable {
        /// Block name.
        block: String,
        /// The parameter.
        name: String,
        /// The settable parameters, comma-separated, or `none`.
        settable: String,
    },
    /// The value does not fit the parameter's type or the block's checks.
    #[error("invalid value for parameter `{name}` of block `{block}`: {message}")]
    Invalid {
        /// Block name.
        block: String,
        /// The parameter.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The block refused the change.
    #[error("block `{block}` refused `{name}`: {message}")]
    Refused {
        /// Block name.
        block: String,
        /// The parameter.
        name: String,
        /// The block's error.
        message: String,
    },
    /// The block has finished or failed; nothing can change any more.
    #[error("block `{0}` is no longer running")]
    NotRunning(String),
    /// The block did not answer in time (it is stuck in a long `work` call).
    #[error("block `{0}` did not apply the change within {1:?}")]
    Timeout(String, Duration),
}

impl SetParamError {
    /// True for errors about the request itself (HTTP 4xx), false for the block's state.
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            SetParamError::NotRunning(_) | SetParamError::Timeout(..)
        )
    }
}

/// The answer to a change: the parameter's effective value after it.
pub type SetParamResult = Result<toml::Value, SetParamError>;

/// One queued change.
pub(crate) struct ParamRequest {
    name: String,
    value: toml::Value,
    reply: flume::Sender<SetParamResult>,
}

/// The observer's side: asks the block's thread to change a parameter.
#[derive(Clone)]
pub struct ParamHandle {
    block: Arc<str>,
    type_name: &'static str,
    settable: &'static [&'static str],
    tx: flume::Sender<ParamRequest>,
    waker: Arc<Waker>,
    current: Arc<Mutex<Option<toml::Value>>>,
}

impl ParamHandle {
    /// The names of the block's settable parameters.
    pub fn settable(&self) -> &'static [&'static str] {
        self.settable
    }

    /// The block's current params as TOML (defaults filled in, run-time changes applied).
    pub fn current(&self) -> Option<toml::Value> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Queues a change; the receiver gets the answer once the block's thread handled it.
    pub fn request(&self, name: &str, value: toml::Value) -> flume::Receiver<SetParamResult> {
        let (reply, rx) = flume::bounded(1);
        let req = ParamRequest {
            name: name.to_string(),
            value,
            reply,
        };
        if let Err(flume::SendError(req)) = self.tx.send(req) {
            let _ = req
                .reply
                .send(Err(SetParamError::NotRunning(self.block.to_string())));
        }
        self.waker.wake();
        rx
    }

    /// Changes a parameter and waits up to `timeout` for the block to apply it.
    pub fn set(&self, name: &str, value: toml::Value, timeout: Duration) -> SetParamResult {
        match self.request(name, value).recv_timeout(timeout) {
            Ok(r) => r,
            Err(flume::RecvTimeoutError::Timeout) => {
                Err(SetParamError::Timeout(self.block.to_string(), timeout))
            }
            Err(flume::RecvTimeoutError::Disconnected) => {
                Err(SetParamError::NotRunning(self.block.to_string()))
            }
        }
    }

    /// A handle to no running block: every change is answered "not running" (for observers
    /// built without a flowgraph, such as tests of displays).
    pub fn detached(block: &str, type_name: &'static str) -> Self {
        let (tx, _) = flume::unbounded();
        ParamHandle {
            block: block.into(),
            type_name,
            settable: &[],
            tx,
            waker: Arc::new(Waker::new()),
            current: Arc::new(Mutex::new(None)),
        }
    }

    /// The block type's TOML name.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
}

/// The block thread's side: the queue and what checking a change needs.
pub(crate) struct ParamPort {
    block: Arc<str>,
    def: &'static dyn DynBlockDef,
    rx: flume::Receiver<ParamRequest>,
    current: Arc<Mutex<Option<toml::Value>>>,
}

/// A connected handle and port for block `name` of type `def`, woken through `waker`.
pub(crate) fn channel(
    name: Arc<str>,
    def: &'static dyn DynBlockDef,
    params: &Arc<dyn AnyParams>,
    waker: Arc<Waker>,
) -> (ParamHandle, ParamPort) {
    let (tx, rx) = flume::unbounded();
    let current = Arc::new(Mutex::new(params.to_toml()));
    (
        ParamHandle {
            block: name.clone(),
            type_name: def.name(),
            settable: def.settable(),
            tx,
            waker,
            current: current.clone(),
        },
        ParamPort {
            block: name,
            def,
            rx,
            current,
        },
    )
}

impl ParamPort {
    /// True when a change is waiting.
    pub(crate) fn pending(&self) -> bool {
        !self.rx.is_empty()
    }

    /// Applies every queued change to `block`; accepted ones replace `params`.
    pub(crate) fn apply(&self, block: &mut dyn Block, params: &mut Arc<dyn AnyParams>) -> usize {
        let mut n = 0;
        while let Ok(req) = self.rx.try_recv() {
            let result = self.check(params, &req.name, &req.value).and_then(|new| {
                // The block gets the value as the params hold it (an integer given for a
                // float parameter arrives as a float).
                let table = new.to_toml();
                let effective = table
                    .as_ref()
                    .and_then(|t| t.get(&req.name).cloned())
                    .unwrap_or_else(|| req.value.clone());
                block
                    .set_param(&req.name, &effective)
                    .map_err(|e| SetParamError::Refused {
                        block: self.block.to_string(),
                        name: req.name.clone(),
                        message: e.to_string(),
                    })?;
                *self.current.lock().unwrap_or_else(|e| e.into_inner()) = table;
                *params = new;
                Ok(effective)
            });
            if let Err(e) = &result {
                tracing::warn!(block = %self.block, "parameter change refused: {e}");
            } else {
                tracing::info!(block = %self.block, param = %req.name, value = %req.value, "parameter changed");
            }
            let _ = req.reply.send(result);
            n += 1;
        }
        n
    }

    /// Answers every queued change with "not running" (the block has ended).
    pub(crate) fn refuse_all(&self) {
        while let Ok(req) = self.rx.try_recv() {
            let _ = req
                .reply
                .send(Err(SetParamError::NotRunning(self.block.to_string())));
        }
    }

    /// The params with `name = value`, if the change is allowed and valid.
    fn check(
        &self,
        params: &Arc<dyn AnyParams>,
        name: &str,
        value: &toml::Value,
    ) -> Result<Arc<dyn AnyParams>, SetParamError> {
        check_change(&self.block, self.def, params, name, value)
    }
}

/// Checks `name = value` against block type `def` and the current `params`; returns the new
/// params.
pub(crate) fn check_change(
    block: &str,
    def: &dyn DynBlockDef,
    params: &Arc<dyn AnyParams>,
    name: &str,
    value: &toml::Value,
) -> Result<Arc<dyn AnyParams>, SetParamError> {
    let settable = def.settable();
    let known = schema::property_names(&def.schema()).unwrap_or_default();
    if !known.iter().any(|k| k == name) {
        let help = crate::config::closest(name, &known)
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_else(|| format!(" (settable: {})", list(settable)));
        return Err(SetParamError::UnknownParam {
            block: block.into(),
            type_name: def.name().into(),
            name: name.into(),
            help,
        });
    }
    if !settable.contains(&name) {
        return Err(SetParamError::NotSettable {
            block: block.into(),
            name: name.into(),
            settable: list(settable),
        });
    }
    let invalid = |message: String| SetParamError::Invalid {
        block: block.into(),
        name: name.into(),
        message,
    };
    let mut table = match params.to_toml() {
        Some(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    };
    table.insert(name.to_string(), value.clone());
    let new = def
        .parse(toml::Value::Table(table))
        .map_err(|e| invalid(e.message.lines().next().unwrap_or("").to_string()))?;
    let errors = new.validate();
    if !errors.is_empty() {
        let msg: Vec<String> = errors
            .iter()
            .map(|e| match e.param.as_str() {
                "" => e.message.clone(),
                p => format!("`{p}` {}", e.message),
            })
            .collect();
        return Err(invalid(msg.join("; ")));
    }
    Ok(new)
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}
