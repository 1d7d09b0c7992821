//! Summaries of knowledge-base entries and their speech (issue #5 §7, §8): a document, text, offer, FAQ or
//! imported website summarised by the workspace's model (feature `summaries`, metered against the entry), or —
//! without an AI endpoint — extractively, labelled as such; and that summary spoken as a stored audio file
//! (feature `speech`; no reduced form).
//!
//! Entries are read through [`knowledge::get`] (members may read the knowledge base); nothing is sent to a
//! provider unless the feature is on, and a reduced summary is never presented as the model's.

use super::assist::{self, SpeechFile, SpeechSource, Summary, MODE_EXTRACTIVE, MODE_MODEL};
use super::knowledge;
use super::metering::{self, CallTarget};
use super::settings;
use crate::{App, Result};
use kith_domain::Context;
use kith_providers::llm::{ChatMessage, ChatRequest};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Characters of an entry given to the model (about 3,000 tokens); the rest is left out, and the prompt says so.
pub const MODEL_CHARS: usize = 12_000;
/// Sentences an extractive summary keeps.
pub const EXTRACT_SENTENCES: usize = 5;
/// Passages of a website read for its summary.
const WEBSITE_CHUNKS: i64 = 40;

/// Words left out of an extractive summary's scores.
const STOP: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by", "can",
    "could", "did", "do", "does", "each", "for", "from", "had", "has", "have", "he", "her", "his", "how", "i", "if",
    "in", "into", "is", "it", "its", "may", "more", "most", "no", "not", "of", "on", "one", "or", "other", "our",
    "out", "she", "so", "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "those", "to", "up", "us", "was", "we", "were", "what", "when", "where", "which", "who", "will", "with",
    "would", "you", "your",
];

/// The entry's title and text as a summary reads them.
async fn entry_text(app: &App, ctx: &Context, id: Uuid) -> Result<(knowledge::KnowledgeEntry, String)> {
    let e = knowledge::get(app, ctx, id).await?;
    let text = match e.kind.as_str() {
        "faq" => format!("{}\n{}", e.question.clone().unwrap_or_default(), e.answer.clone().unwrap_or_default()),
        "website" => {
            let chunks = kith_store::knowledge::entry_chunks(app.db(), ctx.org_id, id, WEBSITE_CHUNKS).await?;
            chunks.into_iter().map(|c| c.text).collect::<Vec<_>>().join("\n")
        }
        _ => e.body.clone().unwrap_or_default(),
    };
    Ok((e, text))
}

/// Summarise a knowledge-base entry (feature `summaries`): by the model with an endpoint, extractively without one.
pub async fn summary(app: &App, ctx: &Context, id: Uuid) -> Result<Summary> {
    let switches = settings::switches(app, ctx.org_id).await?;
    if !switches.features.summaries {
        // The same refusal as every feature that is off, before the entry is read.
        settings::AiSettings::default().require("summaries")?;
    }
    let (e, text) = entry_text(app, ctx, id).await?;
    let sentences = split_sentences(&text);
    if !switches.endpoint {
        return Ok(Summary {
            text: extractive(&e.title, &text, EXTRACT_SENTENCES),
            mode: MODE_EXTRACTIVE.into(),
            call_id: None,
            sources: sentences.len(),
        });
    }
    let s = settings::load(app, ctx.org_id).await?;
    let total = text.chars().count();
    let body: String = text.chars().take(MODEL_CHARS).collect();
    let note = if total > MODEL_CHARS { "\n(The text continues; only its beginning is given.)" } else { "" };
    let req = ChatRequest::new(
        "",
        vec![
            ChatMessage::system(
                "You summarise a business document for a colleague in at most five short sentences: what it is \
                 about and the facts that matter (offers, prices, conditions, dates). Use only the text given; do \
                 not invent anything.",
            ),
            ChatMessage::user(format!("Title: {}\n\n{body}{note}", e.title)),
        ],
    );
    let target = CallTarget { conversation_id: None, record: Some(("knowledge".into(), id)) };
    let out = metering::chat(app, ctx.org_id, "summaries", target, &s, req).await?;
    Ok(Summary {
        text: out.content.trim().to_string(),
        mode: MODE_MODEL.into(),
        call_id: Some(out.call_id),
        sources: sentences.len(),
    })
}

/// Speak an entry's summary (made first, in whichever mode applies). Checks the `speech` switch and the speech
/// model before anything else, so nothing is summarised (or sent) for speech that cannot happen.
pub async fn speak_summary(app: &App, ctx: &Context, id: Uuid) -> Result<SpeechFile> {
    Ok(summary_spoken(app, ctx, id).await?.1)
}

/// [`speak_summary`], also returning the summary that was spoken.
pub async fn summary_spoken(app: &App, ctx: &Context, id: Uuid) -> Result<(Summary, SpeechFile)> {
    assist::speech_ready(app, ctx).await?;
    let s = summary(app, ctx, id).await?;
    let text: String = s.text.chars().take(assist::MAX_SPEECH_CHARS).collect();
    let file = assist::speak_for(app, ctx, &text, SpeechSource::Knowledge(id)).await?;
    Ok((s, file))
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 1).map(|w| w.to_lowercase()).collect()
}

/// Sentences of a text: split at `.`, `!`, `?` followed by a space, and at line ends; Markdown heading and list
/// markers dropped; fragments of two words or fewer left out.
pub fn split_sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim().trim_start_matches(['#', '-', '*', '>', ' ']).trim();
        let mut cur = String::new();
        let chars: Vec<char> = line.chars().collect();
        for (i, &ch) in chars.iter().enumerate() {
            cur.push(ch);
            if matches!(ch, '.' | '!' | '?') && chars.get(i + 1).is_none_or(|n| n.is_whitespace()) {
                out.push(std::mem::take(&mut cur));
            }
        }
        out.push(cur);
    }
    out.into_iter().map(|s| s.trim().to_string()).filter(|s| s.split_whitespace().count() > 2).collect()
}

/// An extractive summary of a document: its `keep` most representative sentences, in the document's order,
/// under a line naming the title.
///
/// Scoring (simple, so a person can predict it): a content word's weight is how often it occurs in the whole
/// text (words of the title count double); a sentence scores the mean weight of its distinct content words times
/// the square root of their number (so neither a two-word fragment nor a run-on sentence wins by length), plus
/// 25% for the text's first sentence (documents tend to lead with what they are about). A sentence sharing more
/// than 60% of its words with one already picked is skipped.
pub fn extractive(title: &str, text: &str, keep: usize) -> String {
    let sentences = split_sentences(text);
    if sentences.is_empty() {
        return format!("{title}\nThis entry has no text to summarise yet.");
    }
    let mut freq: HashMap<String, f64> = HashMap::new();
    for w in words(text).into_iter().filter(|w| !STOP.contains(&w.as_str())) {
        *freq.entry(w).or_default() += 1.0;
    }
    for w in words(title).into_iter().filter(|w| !STOP.contains(&w.as_str())) {
        *freq.entry(w).or_default() += 2.0;
    }
    let mut scored: Vec<(f64, usize, HashSet<String>)> = sentences
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let set: HashSet<String> = words(s).into_iter().filter(|w| !STOP.contains(&w.as_str())).collect();
            let n = set.len() as f64;
            let mean =
                if n > 0.0 { set.iter().map(|w| freq.get(w).copied().unwrap_or(0.0)).sum::<f64>() / n } else { 0.0 };
            let lead = if i == 0 { 1.25 } else { 1.0 };
            (mean * n.sqrt() * lead, i, set)
        })
        .collect();
    scored.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal).then(a.1.cmp(&b.1)));
    let mut picked: Vec<(usize, &HashSet<String>)> = Vec::new();
    for (_, i, set) in &scored {
        if picked.len() >= keep {
            break;
        }
        let similar = picked.iter().any(|(_, p)| {
            let shared = set.intersection(p).count() as f64;
            shared / (set.len().min(p.len()).max(1) as f64) > 0.6
        });
        if !similar {
            picked.push((*i, set));
        }
    }
    picked.sort_by_key(|(i, _)| *i);
    let mut lines = vec![title.trim().to_string()];
    lines.extend(picked.into_iter().map(|(i, _)| sentences[i].clone()));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extractive_picks_representative_sentences_in_order() {
        let text = "# Refunds\n\
            Larkspur refunds any annual plan within 30 days of purchase.\n\
            Our office has a nice view.\n\
            - Refunds of monthly plans are prorated to the day.\n\
            Refunds go back to the card that paid, within 5 business days.\n\
            We like cats.";
        let out = extractive("Refund policy", text, 3);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "Refund policy");
        assert_eq!(lines.len(), 4, "{out}");
        assert!(lines[1].starts_with("Larkspur refunds any annual plan"), "{out}");
        assert!(out.contains("prorated") && out.contains("5 business days"), "{out}");
        assert!(!out.contains("cats") && !out.contains("nice view"), "{out}");
        assert!(extractive("Empty", " ", 3).contains("no text to summarise"));
    }

    #[test]
    fn sentences_drop_markers_and_fragments() {
        assert_eq!(
            split_sentences("## Prices and plans\n- Basic costs 10 EUR. Pro costs 20 EUR!\nOk."),
            ["Prices and plans", "Basic costs 10 EUR.", "Pro costs 20 EUR!"]
        );
    }
}
