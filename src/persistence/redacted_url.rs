//! Connection URLs as they may be printed (errors, logs): any password is
//! masked and the query dropped (Redis over a Unix socket takes its
//! password there), so no message ever carries a credential.

/// `redis://:secret@host:6379/0?x=y` -> `redis://:***@host:6379/0`.
pub fn redacted(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        // An unparsable URL may still hold a secret: print none of it.
        return "<unparsable URL>".into();
    };
    if url.password().is_some() && url.set_password(Some("***")).is_err() {
        return "<unprintable URL>".into();
    }
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_never_survive() {
        for (raw, shown) in [
            ("redis://:secretpw@127.0.0.1:1", "redis://:***@127.0.0.1:1"),
            (
                "redis://user:secretpw@cache:6379/2",
                "redis://user:***@cache:6379/2",
            ),
            (
                "mysql://root:secretpw@db:3306/shop",
                "mysql://root:***@db:3306/shop",
            ),
            ("redis://cache:6379", "redis://cache:6379"),
            (
                "redis+unix:///run/redis.sock?db=0&pass=secretpw",
                "redis+unix:///run/redis.sock",
            ),
            ("not a url secretpw", "<unparsable URL>"),
        ] {
            assert_eq!(redacted(raw), shown);
        }
    }
}
