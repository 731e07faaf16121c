//! Prometheus integration, the shell side (docs/prometheus.md): rendering
//! `scrape.yaml.tpl` at build ([`build`]), the files staging adds to the
//! server job ([`stage`], [`consoles`]), the template functions'
//! text, and the certificate expiry push after a deploy ([`push`]). The
//! decisions (validation, scrape KV, expansion, rule files) are the core's
//! [`crate::plan::prometheus`].

pub mod build;
pub mod consoles;
pub mod push;
pub mod remote_write;
pub mod stage;

use crate::error::Result;
use crate::plan::prometheus as prom;
use crate::state::State;

/// What `{{ scrapeConfigs }}` writes: the scrape catalog expanded with the
/// live allocations and ports (see [`prom::scrape_configs_fragment`]).
pub fn scrape_configs_text(state: &State) -> Result<String> {
    Ok(prom::scrape_configs_fragment(&prom::expanded_scrape_configs(state, &[])?))
}

/// What `{{ ruleFiles }}` writes: the `rule_files:` block of the assembled rules.
pub fn rule_files_text(state: &State) -> String {
    prom::rule_files_fragment(&state.catalog)
}
