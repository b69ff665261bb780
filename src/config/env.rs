//! `CONFAB_*` environment variables as a configuration layer, each read as
//! its setting's type.
//!
//! figment's own `Env` provider guesses a type from the text, so
//! `CONFAB_MEDIA__CLOUDINARY__API_KEY=123456789012345` became a number and
//! start-up failed with "expected a string". Here the built-in defaults say
//! what each setting is: text settings (and unset optional ones, which are
//! all text or paths) take the variable verbatim; numbers, booleans and lists
//! are parsed (a value that does not parse stays text and fails with an
//! error naming the setting).
//!
//! Owns: reading the environment. May not touch: anything outside `config`.

use figment::value::{Dict, Map, Value};
use figment::{Error, Figment, Metadata, Profile, Provider};

/// The prefix of every variable this layer reads.
const PREFIX: &str = "CONFAB_";

/// The environment layer: variables captured at construction.
pub(super) struct TypedEnv {
    /// `(setting path, raw value)`, e.g. `("limits.events_burst", "7")`.
    vars: Vec<(String, String)>,
    /// The defaults, which give each setting its type.
    defaults: Figment,
}

impl TypedEnv {
    /// Reads `CONFAB_*` from the process environment. Variables that name no
    /// setting are ignored with a warning (an orchestrator may inject
    /// `CONFAB_PORT` for a service named "confab").
    pub(super) fn from_process(defaults: Figment, settings: &[&str]) -> Self {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| {
                let key = k.to_str()?;
                let rest = key.get(..PREFIX.len()).filter(|p| p.eq_ignore_ascii_case(PREFIX))?;
                let path = key[rest.len()..].to_ascii_lowercase().replace("__", ".");
                let top = path.split('.').next().unwrap_or_default();
                if path.is_empty() || path.split('.').any(str::is_empty) {
                    return None;
                }
                if !settings.contains(&top) {
                    eprintln!("confab: ignoring environment variable {key}: not a setting");
                    return None;
                }
                Some((path, v.to_string_lossy().trim().to_string()))
            })
            .collect();
        Self { vars, defaults }
    }

    /// The value of one variable, typed by its setting's default.
    fn typed(&self, path: &str, raw: &str) -> Value {
        match self.defaults.find_value(path) {
            Ok(Value::Num(..) | Value::Bool(..) | Value::Array(..) | Value::Dict(..)) => {
                raw.parse().unwrap_or_else(|_| Value::from(raw.to_string()))
            }
            _ => Value::from(raw.to_string()),
        }
    }
}

impl Provider for TypedEnv {
    fn metadata(&self) -> Metadata {
        // Errors name the setting and the variable it came from.
        Metadata::named("`CONFAB_` environment variable(s)").interpolater(|_: &Profile, k: &[&str]| {
            let var = k.iter().map(|k| k.to_ascii_uppercase()).collect::<Vec<_>>().join("__");
            format!("{} ({PREFIX}{var})", k.join("."))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, Error> {
        let mut dict = Dict::new();
        for (path, raw) in &self.vars {
            insert(&mut dict, path, self.typed(path, raw));
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// Sets `value` at the dotted `path` inside `dict`, creating sections.
fn insert(dict: &mut Dict, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            dict.insert(path.to_string(), value);
        }
        Some((section, rest)) => {
            let entry = dict.entry(section.to_string()).or_insert_with(|| Value::from(Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}
