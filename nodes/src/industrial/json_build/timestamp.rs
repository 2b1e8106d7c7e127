//! The timestamp field: its format, and reading a time given in the message.

use std::fmt::Write as _;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Local, SecondsFormat, TimeZone, Utc};
use ferrite_runtime::{ConfigError, Value};

/// How the timestamp is written (`tsFormat`).
#[derive(Debug)]
pub(super) enum TsFormat {
    /// `2026-11-22T18:00:00.000Z`, as JavaScript's `toISOString`.
    Iso,
    /// `2026-11-22T19:00:00.000+01:00`: local time with its offset.
    IsoLocal,
    /// Whole seconds since the epoch.
    Unix,
    /// Whole milliseconds since the epoch.
    UnixMs,
    /// A chrono strftime pattern (`tsPattern`), compiled at deploy, in local time.
    Strftime(Vec<Item<'static>>),
    /// No timestamp field.
    None,
}

impl TsFormat {
    /// Reads `tsFormat` (and `tsPattern`); an empty or missing format is `default`.
    pub fn parse(format: &str, pattern: &str, default: Self) -> Result<Self, ConfigError> {
        Ok(match format {
            "" => default,
            "iso" => Self::Iso,
            "iso-local" => Self::IsoLocal,
            "unix" => Self::Unix,
            "unix-ms" => Self::UnixMs,
            "none" => Self::None,
            "strftime" => {
                if pattern.is_empty() {
                    return Err(ConfigError::field(
                        "tsPattern",
                        "a strftime pattern is required",
                    ));
                }
                let items = StrftimeItems::new(pattern)
                    .parse_to_owned()
                    .map_err(|e| ConfigError::field("tsPattern", format!("{pattern}: {e}")))?;
                Self::Strftime(items)
            }
            other => {
                return Err(ConfigError::field(
                    "tsFormat",
                    format!(
                        "unknown format '{other}' (iso, iso-local, unix, unix-ms, strftime, none)"
                    ),
                ));
            }
        })
    }

    /// The timestamp of `t`; `None` for [`TsFormat::None`].
    pub fn render(&self, t: DateTime<Utc>) -> Result<Option<Value>, String> {
        Ok(Some(match self {
            Self::Iso => Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true)),
            Self::IsoLocal => Value::String(
                t.with_timezone(&Local)
                    .to_rfc3339_opts(SecondsFormat::Millis, false),
            ),
            Self::Unix => Value::Int(t.timestamp()),
            Self::UnixMs => Value::Int(t.timestamp_millis()),
            Self::Strftime(items) => {
                let mut out = String::new();
                // `to_string` would panic on a formatting error; the pattern was checked at
                // deploy, so this only guards against an item the time cannot supply.
                write!(
                    out,
                    "{}",
                    t.with_timezone(&Local).format_with_items(items.iter())
                )
                .map_err(|_| "tsPattern: the time cannot be formatted with it".to_owned())?;
                Value::String(out)
            }
            Self::None => return Ok(None),
        }))
    }
}

/// A time given in the message: milliseconds since the epoch, or an ISO 8601 / RFC 3339 text
/// with its offset (`Z` or `+01:00`).
pub(super) fn parse_time(value: &Value) -> Result<DateTime<Utc>, String> {
    let parsed = match value {
        Value::Int(ms) => Utc.timestamp_millis_opt(*ms).single(),
        // Fractions of a millisecond are dropped, as `new Date(ms)` does.
        Value::Float(ms) if ms.is_finite() => Utc.timestamp_millis_opt(ms.trunc() as i64).single(),
        Value::String(text) => DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    };
    parsed.ok_or_else(|| {
        format!(
            "not a time: {} (expected milliseconds since the epoch or an ISO 8601 text with an offset)",
            value.to_json_string()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instant() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T18:00:00.123Z")
            .expect("valid")
            .with_timezone(&Utc)
    }

    #[test]
    fn utc_and_epoch_formats_render_the_instant() {
        let render = |f: TsFormat| f.render(instant()).expect("renders");
        assert_eq!(
            render(TsFormat::Iso),
            Some(Value::from("2026-11-22T18:00:00.123Z"))
        );
        assert_eq!(render(TsFormat::Unix), Some(Value::Int(1_795_370_400)));
        assert_eq!(
            render(TsFormat::UnixMs),
            Some(Value::Int(1_795_370_400_123))
        );
        assert_eq!(render(TsFormat::None), None);
    }

    #[test]
    fn local_formats_match_chronos_rendering_of_the_instant() {
        let local = instant().with_timezone(&Local);
        assert_eq!(
            TsFormat::IsoLocal.render(instant()),
            Ok(Some(Value::String(
                local.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
            )))
        );
        let pattern = "%d.%m.%Y %H:%M:%S %Z";
        let format = TsFormat::parse("strftime", pattern, TsFormat::Iso).expect("valid");
        assert_eq!(
            format.render(instant()),
            Ok(Some(Value::String(local.format(pattern).to_string())))
        );
    }

    #[test]
    fn bad_strftime_patterns_and_unknown_formats_fail_at_deploy() {
        let err = TsFormat::parse("strftime", "%Y-%Q", TsFormat::Iso).expect_err("invalid");
        assert!(err.to_string().starts_with("tsPattern:"), "{err}");
        let err = TsFormat::parse("strftime", "", TsFormat::Iso).expect_err("missing");
        assert!(err.to_string().starts_with("tsPattern:"), "{err}");
        let err = TsFormat::parse("rfc822", "", TsFormat::Iso).expect_err("unknown");
        assert!(err.to_string().starts_with("tsFormat:"), "{err}");
        assert!(matches!(
            TsFormat::parse("", "", TsFormat::Unix),
            Ok(TsFormat::Unix)
        ));
    }

    #[test]
    fn message_times_are_milliseconds_or_rfc3339() {
        assert_eq!(parse_time(&Value::Int(1_795_370_400_123)), Ok(instant()));
        assert_eq!(
            parse_time(&Value::Float(1_795_370_400_123.9)),
            Ok(instant())
        );
        assert_eq!(
            parse_time(&Value::from("2026-11-22T19:00:00.123+01:00")),
            Ok(instant())
        );
        let err = parse_time(&Value::from("yesterday")).expect_err("unparseable");
        assert!(err.contains("\"yesterday\""), "{err}");
        assert!(parse_time(&Value::Bool(true)).is_err());
        assert!(parse_time(&Value::Float(f64::NAN)).is_err());
    }
}
