//! The account and device bodies: registration, login, push devices, mutes.
//!
//! Owns: these request shapes. May not touch: the services.

use crate::domain::{DisplayName, Error, Millis, Password, Username};
use crate::notify::NewDevice;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// `POST /api/auth/register`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    /// 3-32 letters, digits, `_`, `.` or `-`.
    pub username: String,
    /// 8-256 characters.
    pub password: String,
    /// Shown to others; the username if absent.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A registration with every value checked.
#[derive(Debug)]
pub struct Registration {
    /// The login name.
    pub username: Username,
    /// The password as typed.
    pub password: Password,
    /// The name shown to others, if chosen.
    pub display_name: Option<DisplayName>,
}

impl TryFrom<RegisterRequest> for Registration {
    type Error = Error;

    fn try_from(r: RegisterRequest) -> Result<Self, Error> {
        Ok(Registration {
            username: Username::parse(&r.username)?,
            password: Password::parse(&r.password)?,
            display_name: r.display_name.as_deref().map(DisplayName::parse).transpose()?,
        })
    }
}

/// `POST /api/auth/login`. Checked by the user service, which answers an
/// unknown username and a wrong password alike.
#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    /// As typed.
    pub username: String,
    /// As typed.
    pub password: String,
}

/// `POST /api/push/subscriptions`: `{type: "webpush", endpoint, keys: {p256dh, auth}}`,
/// `{type: "fcm", token}` or `{type: "apns", token, environment?}`.
#[derive(Debug, Deserialize)]
pub struct NewDeviceRequest {
    /// The provider.
    #[serde(rename = "type")]
    pub kind: DeviceKind,
    /// Web Push: the push service URL.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Web Push: the browser's keys.
    #[serde(default)]
    pub keys: Option<WebPushKeys>,
    /// FCM and APNs: the device token.
    #[serde(default)]
    pub token: Option<String>,
    /// APNs: `sandbox` or `production` (the default).
    #[serde(default)]
    pub environment: Option<ApnsEnvironment>,
}

/// A push provider, as requests name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// Web Push (browsers).
    Webpush,
    /// Firebase Cloud Messaging.
    Fcm,
    /// Apple Push Notification service.
    Apns,
}

/// A Web Push subscription's `keys`.
#[derive(Debug, Deserialize)]
pub struct WebPushKeys {
    /// The P-256 public key, base64url.
    pub p256dh: String,
    /// The 16-byte auth secret, base64url.
    pub auth: String,
}

/// Which APNs service a device's app build uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApnsEnvironment {
    /// Development builds.
    Sandbox,
    /// App Store and TestFlight builds.
    Production,
}

fn required(v: Option<String>, field: &str) -> Result<String, Error> {
    v.ok_or_else(|| Error::invalid(format!("`{field}` must be a string")))
}

impl TryFrom<NewDeviceRequest> for NewDevice {
    type Error = Error;

    /// Checks the shape; the notification service checks the meaning (URL, key sizes).
    fn try_from(r: NewDeviceRequest) -> Result<Self, Error> {
        Ok(match r.kind {
            DeviceKind::Webpush => {
                let keys = r.keys.ok_or_else(|| Error::invalid("`keys` must be {p256dh, auth}"))?;
                NewDevice::WebPush {
                    endpoint: required(r.endpoint, "endpoint")?,
                    p256dh: keys.p256dh,
                    auth: keys.auth,
                }
            }
            DeviceKind::Fcm => NewDevice::Fcm { token: required(r.token, "token")? },
            DeviceKind::Apns => NewDevice::Apns {
                token: required(r.token, "token")?,
                sandbox: r.environment == Some(ApnsEnvironment::Sandbox),
            },
        })
    }
}

/// A mute's body: `{"until": null | <ms since epoch> | "<RFC 3339 time>"}`;
/// no body or no `until` mutes until unmuted.
#[derive(Debug, Default, Deserialize)]
pub struct MuteRequest {
    /// When the mute ends.
    #[serde(default)]
    pub until: Until,
}

/// The end of a mute; `None`: when it is removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Until(pub Option<Millis>);

impl<'de> Deserialize<'de> for Until {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Until;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("null, milliseconds since the epoch, or an RFC 3339 time")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Until, E> {
                Ok(Until(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Until, E> {
                Ok(Until(None))
            }
            fn visit_i64<E: de::Error>(self, ms: i64) -> Result<Until, E> {
                if ms > 0 {
                    Ok(Until(Some(ms)))
                } else {
                    Err(E::invalid_value(de::Unexpected::Signed(ms), &self))
                }
            }
            fn visit_u64<E: de::Error>(self, ms: u64) -> Result<Until, E> {
                match i64::try_from(ms) {
                    Ok(ms) if ms > 0 => Ok(Until(Some(ms))),
                    _ => Err(E::invalid_value(de::Unexpected::Unsigned(ms), &self)),
                }
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Until, E> {
                chrono::DateTime::parse_from_rfc3339(s)
                    .map(|t| Until(Some(t.timestamp_millis())))
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(s), &self))
            }
        }
        d.deserialize_any(V)
    }
}
