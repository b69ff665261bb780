//! The configuration's layering, its errors, environment variables read as
//! each setting's type, and the settings reference (`docs/CONFIG.md`).

use super::*;
use serde_json::Value as Json;

#[test]
fn defaults_are_valid() {
    let c = Config::default();
    assert!(c.validate().is_ok());
    assert_eq!(c.database().ok(), Some(Database::Sqlite(PathBuf::from("./data/confab.db"))));
}

#[test]
fn database_urls() {
    let with = |u: &str| Config { database_url: Some(u.into()), ..Config::default() };
    assert_eq!(with("sqlite:///tmp/x.db").database().ok(), Some(Database::Sqlite("/tmp/x.db".into())));
    let err = with("mysql://u:secret@h/db").database().err().map(|e| e.to_string());
    assert!(err.as_deref().is_some_and(|e| e.contains("database_url") && !e.contains("secret")));
    assert_eq!(with("postgres://h/db").database().ok(), Some(Database::Postgres("postgres://h/db".into())));
}

fn load_err() -> String {
    Config::load(None, Overrides::default()).err().map(|e| e.to_string()).unwrap_or_default()
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API
fn layering_and_errors_name_the_setting() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("confab.toml", "listen = \"127.0.0.1:9000\"\n[limits]\nmessage_max_chars = 10\n")?;
        jail.set_env("CONFAB_LIMITS__EVENTS_BURST", "7");
        let c = Config::load(
            None,
            Overrides { listen: Some("127.0.0.1:9100".parse().map_err(|_| "addr")?), ..Default::default() },
        )
        .map_err(|e| e.to_string())?;
        assert_eq!(c.listen.port(), 9100, "flag beats file");
        assert_eq!(c.limits.message_max_chars, 10, "file beats default");
        assert_eq!(c.limits.events_burst, 7, "env applies");

        jail.set_env("CONFAB_TRUSTED_PROXIES", "[\"10.0.0.0/8\", \"::1\"]");
        let c = Config::load(None, Overrides::default()).map_err(|e| e.to_string())?;
        assert!(c.trusted_proxies.contains("10.9.8.7".parse().map_err(|_| "ip")?));
        jail.set_env("CONFAB_TRUSTED_PROXIES", "[\"proxy.local\"]");
        let err = load_err();
        assert!(err.contains("trusted_proxies"), "{err}");
        jail.set_env("CONFAB_TRUSTED_PROXIES", "[]");

        jail.set_env("CONFAB_BIN", "/not/a/setting");
        assert!(Config::load(None, Overrides::default()).is_ok(), "unrelated CONFAB_* variables are ignored");

        jail.set_env("CONFAB_LIMITS__EVENTS_BURST", "many");
        let err = load_err();
        assert!(err.to_lowercase().contains("limits.events_burst"), "{err}");

        jail.set_env("CONFAB_LIMITS__EVENTS_BURST", "0");
        let err = load_err();
        assert!(err.contains("limits.events_burst"), "{err}");
        jail.set_env("CONFAB_LIMITS__EVENTS_BURST", "7");

        jail.set_env("CONFAB_STORAGE__SQLITE_SYNCHRONOUS", "fast");
        let err = load_err();
        assert!(err.contains("storage.sqlite_synchronous") && err.contains("normal"), "{err}");
        jail.set_env("CONFAB_STORAGE__SQLITE_SYNCHRONOUS", "normal");
        let c = Config::load(None, Overrides::default()).map_err(|e| e.to_string())?;
        assert_eq!(c.storage.sqlite_synchronous, SqliteSynchronous::Normal);

        jail.create_file("confab.toml", "lisen = \"x\"\n")?;
        let err = load_err();
        assert!(err.contains("lisen"), "{err}");
        Ok(())
    });
}

/// Every setting's dotted path and default value, from `Config::default()`.
fn settings() -> Vec<(String, Json)> {
    fn walk(prefix: &str, v: &Json, out: &mut Vec<(String, Json)>) {
        match v {
            Json::Object(map) => {
                for (k, v) in map {
                    let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&path, v, out);
                }
            }
            leaf => out.push((prefix.to_string(), leaf.clone())),
        }
    }
    let mut out = Vec::new();
    walk("", &serde_json::to_value(Config::default()).unwrap_or_default(), &mut out);
    out
}

fn env_name(path: &str) -> String {
    format!("CONFAB_{}", path.to_ascii_uppercase().replace('.', "__"))
}

/// Text settings whose value must also have a form (an address, a URL, one
/// of a few words): digits are read as text, then refused, naming the setting.
const FORMATTED: [&str; 13] = [
    "storage.sqlite_synchronous",
    "log_format",
    "metrics_listen",
    "listen",
    "database_url",
    "redis_url",
    "push.vapid_subject",
    "push.fcm.endpoint",
    "push.fcm.token_url",
    "push.apns.production_url",
    "push.apns.sandbox_url",
    "media.cloudinary.api_url",
    "media.cloudinary.delivery_url",
];

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API
fn every_text_setting_reads_digits_from_the_environment_as_text() {
    let text: Vec<String> = settings()
        .into_iter()
        .filter(|(_, v)| matches!(v, Json::String(_) | Json::Null))
        .map(|(path, _)| path)
        .collect();
    assert!(text.len() >= 20, "found only {text:?}");
    figment::Jail::expect_with(|jail| {
        for path in &text {
            let var = env_name(path);
            for digits in ["123456789012345", "0123"] {
                jail.clear_env();
                // Cloudinary is all or nothing: give the other two parts.
                for part in ["CLOUD_NAME", "API_KEY", "API_SECRET"] {
                    jail.set_env(format!("CONFAB_MEDIA__CLOUDINARY__{part}"), "x");
                }
                jail.set_env(&var, digits);
                match Config::load(None, Overrides::default()) {
                    Ok(c) => {
                        let got = serde_json::to_value(&c).unwrap_or_default();
                        let got = path.split('.').fold(&got, |v, k| &v[k]);
                        assert_eq!(got, &Json::from(digits), "{var}={digits} read as {got}");
                        assert!(!FORMATTED.contains(&path.as_str()), "{var}={digits} was accepted");
                    }
                    Err(e) => {
                        let e = e.to_string();
                        assert!(FORMATTED.contains(&path.as_str()), "{var}={digits}: {e}");
                        assert!(!e.contains("expected a string") && !e.contains("found unsigned"), "{e}");
                        assert!(
                            e.contains(path.as_str()),
                            "{var}={digits}: the error names the setting: {e}"
                        );
                    }
                }
            }
        }
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API
fn the_documented_example_reads_a_cloudinary_key_of_digits() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("CONFAB_MEDIA__CLOUDINARY__CLOUD_NAME", "demo");
        jail.set_env("CONFAB_MEDIA__CLOUDINARY__API_KEY", "123456789012345");
        jail.set_env("CONFAB_MEDIA__CLOUDINARY__API_SECRET", "0042");
        jail.set_env("CONFAB_PUSH__HIDE_PREVIEWS", "true");
        jail.set_env("CONFAB_CORS_ORIGINS", "[\"https://chat.example.com\"]");
        let c = Config::load(None, Overrides::default()).map_err(|e| e.to_string())?;
        assert_eq!(c.media.cloudinary.api_key.as_deref(), Some("123456789012345"));
        assert_eq!(c.media.cloudinary.api_secret.as_deref(), Some("0042"), "leading zeros kept");
        assert!(c.push.hide_previews, "booleans are still booleans");
        assert_eq!(c.cors_origins, ["https://chat.example.com"], "lists are still lists");
        Ok(())
    });
}

fn read_doc(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A TOML literal (or `unset`) as JSON, to compare with a default.
fn toml_value(literal: &str) -> Json {
    if literal == "unset" {
        return Json::Null;
    }
    Figment::from(Toml::string(&format!("v = {literal}")))
        .extract_inner::<Json>("v")
        .unwrap_or_else(|e| panic!("`{literal}` is not a TOML value: {e}"))
}

/// `docs/CONFIG.md` lists exactly the settings `Config` has, each with its
/// real default.
#[test]
fn the_settings_reference_matches_config() {
    let doc = read_doc("docs/CONFIG.md");
    let mut documented = Vec::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split(" | ").map(|c| c.trim_matches(['|', ' '])).collect();
        let Some(key) = cells.first().and_then(|c| c.strip_prefix('`')).and_then(|c| c.strip_suffix('`'))
        else {
            continue;
        };
        let default = cells.get(1).map(|d| d.trim_matches('`')).unwrap_or_default();
        documented.push((key.to_string(), toml_value(default)));
    }
    let mut expected = settings();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    documented.sort_by(|a, b| a.0.cmp(&b.0));
    let keys = |v: &[(String, Json)]| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&documented), keys(&expected), "docs/CONFIG.md lists other settings than Config");
    for ((key, doc), (_, real)) in documented.iter().zip(&expected) {
        assert_eq!(doc, real, "docs/CONFIG.md: the default of `{key}`");
    }
}

/// The README's example configuration is valid and shows the defaults.
#[test]
fn the_readme_example_is_the_defaults() {
    let readme = read_doc("README.md");
    let block = readme
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_else(|| panic!("README.md has no ```toml block"));
    let example: Config = Figment::from(Toml::string(block))
        .extract()
        .unwrap_or_else(|e| panic!("README.md's configuration example: {e}"));
    let defaults = serde_json::to_value(Config::default()).unwrap_or_default();
    assert_eq!(serde_json::to_value(example).unwrap_or_default(), defaults, "README.md's example");
}
