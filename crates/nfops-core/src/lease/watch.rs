//! The signal a lease holder's job watches: fired when the heartbeat finds
//! the lease taken over (this holder stalled past the time-to-live).

use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::{ttl, Holder};
use crate::error::{Error, ErrorCode};

/// Fires when the heartbeat finds the lease taken by someone else (this
/// holder stalled past the time-to-live). Cheap to clone; the job runner
/// and the use case share one.
#[derive(Clone, Debug)]
pub struct LeaseWatch {
    environment: String,
    lost: CancellationToken,
    /// Who holds it now, read when the loss was found (`None`: nobody, the
    /// row was deleted by hand or expired and released).
    new_holder: Arc<Mutex<Option<Holder>>>,
}

impl LeaseWatch {
    pub(super) fn new(environment: &str) -> Self {
        Self {
            environment: environment.to_owned(),
            lost: CancellationToken::new(),
            new_holder: Arc::new(Mutex::new(None)),
        }
    }

    /// The environment the lease is for.
    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// Cancelled once the lease is lost; for `select!` and child tokens.
    pub fn token(&self) -> &CancellationToken {
        &self.lost
    }

    pub fn is_lost(&self) -> bool {
        self.lost.is_cancelled()
    }

    /// Who took the lease over, once it is lost.
    pub fn new_holder(&self) -> Option<Holder> {
        self.new_holder
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// `environment.busy` naming the new holder, once the lease is lost.
    pub fn lost_error(&self) -> Option<Error> {
        if !self.is_lost() {
            return None;
        }
        let who = self.new_holder().map_or_else(
            || format!("nobody holds {} now", self.environment),
            |h| h.describe(),
        );
        Some(
            Error::new(
                ErrorCode::EnvironmentBusy,
                format!(
                    "this process lost {}'s lease (its heartbeat stalled past {} s) and stopped: {who}",
                    self.environment,
                    ttl().as_secs()
                ),
            )
            .hint("Nothing more was changed after the step that was running. Check with the new holder, then look at the environment before running again."),
        )
    }

    /// Marks the lease lost to `holder` and wakes everyone watching.
    pub(super) fn mark_lost(&self, holder: Option<Holder>) {
        *self.new_holder.lock().unwrap_or_else(|p| p.into_inner()) = holder;
        self.lost.cancel();
    }
}
