//! Env states live in the platform's database, as the server's Terraform `http` backend keeps
//! them; Terraform run by the server itself (the reaper, automation workers) works on a local
//! copy, loaded before and handed back after.

use std::path::Path;

use async_trait::async_trait;

use crate::api::Env;
use crate::ops::env::EnvStateKeeper;
use crate::service::{Identity, Service};

pub struct DatabaseStates {
    service: Service,
}

impl DatabaseStates {
    pub fn new(service: Service) -> Self {
        Self { service }
    }
}

#[async_trait]
impl EnvStateKeeper for DatabaseStates {
    async fn load(&self, env: &Env, path: &Path) -> Result<(), String> {
        let state = self
            .service
            .get_env_state(&Identity::Operator, None, &env.id)
            .await
            .map_err(|err| err.message)?;
        if let Some(parent) = path.parent() {
            crate::private_fs::private_dir(parent).map_err(|err| err.to_string())?;
        }
        match state {
            Some(state) => crate::private_fs::write_private(path, state.as_bytes())
                .map_err(|err| err.to_string()),
            None => match std::fs::remove_file(path) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.to_string()),
                _ => Ok(()),
            },
        }
    }

    async fn save(&self, env: &Env, path: Option<&Path>) -> Result<(), String> {
        let state = match path {
            Some(path) => std::fs::read_to_string(path).ok(),
            None => None,
        };
        self.service
            .put_env_state(&Identity::Operator, None, &env.id, None, state)
            .await
            .map_err(|err| err.message)
    }
}
