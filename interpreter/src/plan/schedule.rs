//! The cron expressions of `on schedule` triggers, parsed one way for the loader's checks and for the scheduler of `flowc serve`.

/// Parses a five-field UTC cron expression (names allowed, or an `@daily`-style
/// nickname), as the compiler's checker does.
pub fn parse_cron(text: &str) -> Result<croner::Cron, String> {
    if text.split_whitespace().count() != 5 && !text.trim_start().starts_with('@') {
        return Err(format!("expected 5 fields (minute hour day month weekday), found {}", text.split_whitespace().count()));
    }
    croner::parser::CronParser::new().parse(text).map_err(|e| e.to_string())
}
