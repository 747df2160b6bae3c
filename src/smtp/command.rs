//! SMTP commands (RFC 5321 4.1), read from one line without its line break. Pure.

/// One command line, read.
#[derive(Debug, PartialEq, Eq)]
pub enum Command<'a> {
    Ehlo,
    Helo,
    /// `MAIL FROM:<…>` and the size it declares (RFC 1870 `SIZE=`). The reverse path
    /// itself is never used.
    Mail {
        size: Option<u64>,
    },
    /// `RCPT TO:<…>`: the address, without its brackets or a source route.
    Rcpt(&'a str),
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Help,
    StartTls,
    /// A command this receiver does not implement (`BDAT`, `AUTH`, `EXPN`, `TURN`…).
    NotImplemented,
    /// Not a command at all.
    Unknown,
    /// A known command with wrong arguments, and what is wrong.
    Syntax(&'static str),
}

const NOT_IMPLEMENTED: &[&str] = &["BDAT", "AUTH", "EXPN", "TURN", "ETRN", "ATRN", "SEND", "SOML", "SAML"];

/// Reads a command line.
pub fn parse(line: &[u8]) -> Command<'_> {
    let Ok(line) = std::str::from_utf8(line) else { return Command::Syntax("the line is not UTF-8") };
    let (verb, rest) = match line.split_once(' ') {
        Some((verb, rest)) => (verb, rest.trim()),
        None => (line.trim_end(), ""),
    };
    let verb = verb.to_ascii_uppercase();
    match verb.as_str() {
        "EHLO" if !rest.is_empty() => Command::Ehlo,
        "HELO" if !rest.is_empty() => Command::Helo,
        "EHLO" | "HELO" => Command::Syntax("a domain or address literal must follow"),
        "MAIL" => match path_after(rest, "FROM:") {
            Some((_, parameters)) => match size(parameters) {
                Ok(size) => Command::Mail { size },
                Err(why) => Command::Syntax(why),
            },
            None => Command::Syntax("expected MAIL FROM:<reverse-path>"),
        },
        "RCPT" => match path_after(rest, "TO:") {
            Some((path, _)) if !path.is_empty() => Command::Rcpt(path),
            _ => Command::Syntax("expected RCPT TO:<forward-path>"),
        },
        "DATA" | "RSET" | "QUIT" | "STARTTLS" if !rest.is_empty() => {
            Command::Syntax("no argument is allowed")
        }
        "DATA" => Command::Data,
        "RSET" => Command::Rset,
        "QUIT" => Command::Quit,
        "STARTTLS" => Command::StartTls,
        "NOOP" => Command::Noop,
        "VRFY" => Command::Vrfy,
        "HELP" => Command::Help,
        v if NOT_IMPLEMENTED.contains(&v) => Command::NotImplemented,
        _ => Command::Unknown,
    }
}

/// The path after `FROM:` or `TO:` (a space after the colon is tolerated, as most
/// servers do), without its angle brackets or source route, and the parameters after
/// it.
fn path_after<'a>(rest: &'a str, keyword: &str) -> Option<(&'a str, &'a str)> {
    let head = rest.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = rest[keyword.len()..].trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    let path = &inner[..end];
    // A source route (`@a,@b:user@domain`) is to be ignored (RFC 5321 4.1.1.3).
    let path = match path.strip_prefix('@') {
        Some(routed) => routed.split_once(':').map_or("", |(_, mailbox)| mailbox),
        None => path,
    };
    Some((path, inner[end + 1..].trim()))
}

/// The `SIZE=` parameter among MAIL's parameters.
fn size(parameters: &str) -> Result<Option<u64>, &'static str> {
    for parameter in parameters.split_ascii_whitespace() {
        if let Some((key, value)) = parameter.split_once('=') {
            if key.eq_ignore_ascii_case("SIZE") {
                return value.parse().map(Some).map_err(|_| "SIZE= takes a number");
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_commands_as_clients_send_them() {
        assert_eq!(parse(b"EHLO client.example"), Command::Ehlo);
        assert_eq!(parse(b"helo client.example"), Command::Helo);
        assert_eq!(parse(b"EHLO"), Command::Syntax("a domain or address literal must follow"));
        assert_eq!(
            parse(b"MAIL FROM:<a@b.example> SIZE=1200 BODY=8BITMIME"),
            Command::Mail { size: Some(1200) }
        );
        assert_eq!(parse(b"mail from: <>"), Command::Mail { size: None });
        assert_eq!(parse(b"MAIL FROM:<a@b.example> SIZE=x"), Command::Syntax("SIZE= takes a number"));
        assert_eq!(parse(b"RCPT TO:<u-abc@unsub.example>"), Command::Rcpt("u-abc@unsub.example"));
        assert_eq!(
            parse(b"Rcpt To:<@relay.example,@r2.example:u-abc@unsub.example> NOTIFY=NEVER"),
            Command::Rcpt("u-abc@unsub.example")
        );
        assert!(matches!(parse(b"RCPT TO:u-abc@unsub.example"), Command::Syntax(_)));
        assert!(matches!(parse(b"RCPT TO:<>"), Command::Syntax(_)));
        assert!(matches!(parse(b"RCPT FROM:<a@b>"), Command::Syntax(_)));
        assert_eq!(parse(b"DATA"), Command::Data);
        assert!(matches!(parse(b"DATA now"), Command::Syntax(_)));
        assert_eq!(parse(b"STARTTLS"), Command::StartTls);
        assert_eq!(parse(b"BDAT 100 LAST"), Command::NotImplemented);
        assert_eq!(parse(b"AUTH PLAIN"), Command::NotImplemented);
        assert_eq!(parse(b"GET / HTTP/1.1"), Command::Unknown);
        assert_eq!(parse(b""), Command::Unknown);
        assert!(matches!(parse(b"RCPT TO:<\xff>"), Command::Syntax(_)));
    }

    proptest! {
        #[test]
        fn any_line_is_read_without_a_panic(line in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse(&line);
        }

        #[test]
        fn any_rcpt_text_is_read_without_a_panic(text in "\\PC{0,100}") {
            let _ = parse(format!("RCPT TO:{text}").as_bytes());
            let _ = parse(format!("MAIL FROM:{text}").as_bytes());
        }
    }
}
