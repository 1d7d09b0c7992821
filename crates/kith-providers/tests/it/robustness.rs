//! The parsers take bytes from the internet: every truncation and a spread of byte mutations of real payloads must
//! give `Ok` or `Err`, never a panic. (proptest is not a dependency of the workspace; a fixed-seed generator keeps
//! this deterministic.)

use kith_providers::{meta, telegram, twilio, viber, InboundEvent, ParseError};

type Parser = fn(&[u8]) -> Result<Vec<InboundEvent>, ParseError>;

const SAMPLES: &[(&str, Parser, &str)] = &[
    (
        "twilio",
        twilio::parse_form,
        "MessageSid=SM1&From=%2B15551234567&To=%2B15557654321&Body=Hi+there&NumMedia=1&MediaUrl0=https%3A%2F%2Fx%2F1&MediaContentType0=image%2Fjpeg",
    ),
    ("twilio-status", twilio::parse_form, "MessageSid=SM1&MessageStatus=failed&ErrorCode=30008&ErrorMessage=x"),
    (
        "whatsapp",
        meta::parse,
        r#"{"object":"whatsapp_business_account","entry":[{"id":"W","changes":[{"field":"messages","value":{"metadata":{"display_phone_number":"1555","phone_number_id":"PN"},"contacts":[{"profile":{"name":"A"},"wa_id":"1650"}],"messages":[{"from":"1650","id":"wamid.1","timestamp":"1749416383","type":"image","image":{"id":"M","mime_type":"image/jpeg","caption":"c"}}],"statuses":[{"id":"wamid.2","status":"failed","timestamp":"1","errors":[{"code":131047,"title":"t"}]}]}}]}]}"#,
    ),
    (
        "messenger",
        meta::parse,
        r#"{"object":"page","entry":[{"id":"P","time":1,"messaging":[{"sender":{"id":"S"},"recipient":{"id":"P"},"timestamp":1,"message":{"mid":"m","text":"t","attachments":[{"type":"image","payload":{"url":"https://x"}}]}},{"sender":{"id":"S"},"recipient":{"id":"P"},"delivery":{"mids":["a"],"watermark":1}}]}]}"#,
    ),
    (
        "telegram",
        telegram::parse,
        r#"{"update_id":1,"message":{"message_id":2,"date":3,"from":{"id":4,"is_bot":false,"first_name":"A","last_name":"B"},"chat":{"id":-5,"type":"group"},"caption":"c","photo":[{"file_id":"f","width":1,"height":1}],"document":{"file_id":"d","mime_type":"application/pdf"}}}"#,
    ),
    (
        "viber",
        viber::parse,
        r#"{"event":"message","timestamp":1457764197627,"message_token":4912661846655238145,"sender":{"id":"U=","name":"N"},"message":{"type":"picture","text":"t","media":"https://x"}}"#,
    ),
    ("viber-status", viber::parse, r#"{"event":"failed","timestamp":1,"message_token":2,"user_id":"U","desc":"d"}"#),
];

/// The replacement bytes most likely to change how a payload is read.
const MUTATIONS: &[u8] = b"\"{}[]:,0-9.aZ&=%+ \\\x00\xff\xc3";

#[test]
fn samples_parse() {
    for (name, parser, sample) in SAMPLES {
        let events = parser(sample.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!events.is_empty(), "{name}");
    }
}

#[test]
fn truncations_and_mutations_never_panic() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (name, parser, sample) in SAMPLES {
        let bytes = sample.as_bytes();
        for len in 0..=bytes.len() {
            let _ = parser(&bytes[..len]);
        }
        for i in 0..bytes.len() {
            for &m in MUTATIONS {
                let mut mutated = bytes.to_vec();
                mutated[i] = m;
                let _ = parser(&mutated);
            }
        }
        for _ in 0..2000 {
            let mut mutated = bytes.to_vec();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % mutated.len();
                match next() % 3 {
                    0 => mutated[i] = MUTATIONS[(next() as usize) % MUTATIONS.len()],
                    1 => {
                        mutated.remove(i);
                    }
                    _ => mutated.insert(i, MUTATIONS[(next() as usize) % MUTATIONS.len()]),
                }
                if mutated.is_empty() {
                    mutated.push(b'{');
                }
            }
            let _ = parser(&mutated);
        }
        let _ = name;
    }
}
